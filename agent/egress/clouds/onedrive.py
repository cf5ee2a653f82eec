"""OneDrive: Personal versus Business (work or school) accounts.

Windows: ``HKCU\\Software\\Microsoft\\OneDrive\\Accounts\\Personal\\UserFolder`` and
``Accounts\\Business1..N\\UserFolder``; the ``OneDriveConsumer`` / ``OneDriveCommercial``
environment variables as a second source. macOS (File Provider) roots are read by
:mod:`agent.egress.clouds.cloud_storage`; the older macOS client used ``~/OneDrive`` for
Personal and ``~/OneDrive - <Organisation>`` for Business.
"""

from __future__ import annotations

from pathlib import Path

from agent.egress.clouds import KIND_ONEDRIVE_BUSINESS, KIND_ONEDRIVE_PERSONAL, CloudRoot, DiscoveryContext
from agent.registry import value

ACCOUNTS_KEY = r"HKCU\Software\Microsoft\OneDrive\Accounts"
ENV_VARIABLES = (("OneDriveConsumer", KIND_ONEDRIVE_PERSONAL), ("OneDriveCommercial", KIND_ONEDRIVE_BUSINESS))


def find(ctx: DiscoveryContext) -> list[CloudRoot]:
    """OneDrive roots from the registry and environment (Windows) or legacy folders (macOS)."""
    roots: list[CloudRoot] = []
    if ctx.is_windows:
        if ctx.registry is not None:
            for account in ctx.registry.subkeys(ACCOUNTS_KEY):
                if account == "Personal":
                    kind = KIND_ONEDRIVE_PERSONAL
                elif account.startswith("Business"):
                    kind = KIND_ONEDRIVE_BUSINESS
                else:
                    continue
                folder = value(ctx.registry, rf"{ACCOUNTS_KEY}\{account}", "UserFolder")
                if folder:
                    roots.append(CloudRoot(Path(ctx.expand(folder)), kind, "registry"))
        for variable, kind in ENV_VARIABLES:
            folder = ctx.getenv(variable)
            if folder:
                roots.append(CloudRoot(Path(folder), kind, "environment"))
    elif ctx.is_macos:
        roots.append(CloudRoot(ctx.home / "OneDrive", KIND_ONEDRIVE_PERSONAL, "legacy-folder"))
        roots.extend(
            CloudRoot(entry, KIND_ONEDRIVE_BUSINESS, "legacy-folder") for entry in sorted(ctx.home.glob("OneDrive - *"))
        )
    return roots
