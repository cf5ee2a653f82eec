"""Google Drive for desktop (DriveFS).

Windows: DriveFS streams into a drive letter, ``DefaultMountPoint`` under
``HKCU\\Software\\Google\\DriveFS`` (or the machine-wide ``HKLM`` key), ``G`` when unset; mirrored
"My Drive" lives in ``%USERPROFILE%\\My Drive``. Both are reported only when DriveFS is
installed (its registry key or ``%LOCALAPPDATA%\\Google\\DriveFS`` exists), so an unrelated ``G:``
is not mistaken for it. macOS (File Provider) roots ``~/Library/CloudStorage/GoogleDrive-<account>``
are read by :mod:`agent.egress.clouds.cloud_storage`; older macOS versions used
``/Volumes/GoogleDrive`` and Backup and Sync used ``~/Google Drive``.
DriveFS cannot tell a personal account from a Workspace one; all are ``gdrive``.
"""

from __future__ import annotations

from pathlib import Path

from agent.egress.clouds import KIND_GDRIVE, CloudRoot, DiscoveryContext
from agent.registry import value

DRIVEFS_KEYS = (r"HKCU\Software\Google\DriveFS", r"HKLM\SOFTWARE\Google\DriveFS")


def find(ctx: DiscoveryContext) -> list[CloudRoot]:
    """Google Drive roots for this platform."""
    if ctx.is_windows:
        return _windows(ctx)
    if ctx.is_macos:
        return [
            CloudRoot(ctx.home / "Google Drive", KIND_GDRIVE, "legacy-folder"),
            CloudRoot(Path("/Volumes/GoogleDrive"), KIND_GDRIVE, "legacy-volume"),
        ]
    return []


def _windows(ctx: DiscoveryContext) -> list[CloudRoot]:
    installed = False
    letter = None
    if ctx.registry is not None:
        for key in DRIVEFS_KEYS:
            values = ctx.registry.values(key)
            installed = installed or bool(values) or bool(ctx.registry.subkeys(key))
            letter = letter or value(ctx.registry, key, "DefaultMountPoint")
    local = ctx.getenv("LOCALAPPDATA")
    if local and (Path(local) / "Google" / "DriveFS").is_dir():
        installed = True
    if not installed:
        return []
    roots = [CloudRoot(Path(f"{(letter or 'G').rstrip(':').strip()[:1].upper()}:\\"), KIND_GDRIVE, "registry")]
    profile = ctx.getenv("USERPROFILE")
    if profile:
        roots.append(CloudRoot(Path(profile) / "My Drive", KIND_GDRIVE, "mirror-folder"))
    return roots
