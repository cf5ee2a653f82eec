"""Where the user's Desktop and Documents really are.

macOS and Linux: ``~/Desktop`` and ``~/Documents`` resolved through symlinks (iCloud's "Desktop
& Documents Folders" makes them links into iCloud Drive). Windows: the ``User Shell Folders``
registry values, which OneDrive's Known Folder Move points into the OneDrive root.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.egress.clouds import DiscoveryContext

USER_SHELL_FOLDERS = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders"
# User Shell Folders value name -> folder name we report.
WINDOWS_FOLDERS = {"Desktop": "Desktop", "Personal": "Documents", "My Pictures": "Pictures"}
POSIX_FOLDERS = ("Desktop", "Documents")


def find(ctx: DiscoveryContext) -> list[tuple[str, Path]]:
    """``(folder name, real location)`` for each known folder that exists or is configured."""
    if ctx.is_windows:
        if ctx.registry is None:
            return []
        values = ctx.registry.values(USER_SHELL_FOLDERS)
        return [
            (name, Path(os.path.realpath(ctx.expand(values[value_name]))))
            for value_name, name in WINDOWS_FOLDERS.items()
            if values.get(value_name)
        ]
    found: list[tuple[str, Path]] = []
    for name in POSIX_FOLDERS:
        path = ctx.home / name
        if path.is_symlink() or path.is_dir():
            found.append((name, Path(os.path.realpath(path))))
    return found
