"""Windows cloud-files sync roots registered with the shell (``SyncRootManager``).

Every client using the cloud files API registers
``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\SyncRootManager\\<Provider>!<SID>!<Account>``
with ``UserSyncRoots`` values (user SID -> local root). The provider and account parts of the
key name give the kind; providers we do not know are skipped rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.egress.clouds import (
    KIND_DROPBOX_BUSINESS,
    KIND_DROPBOX_PERSONAL,
    KIND_GDRIVE,
    KIND_ICLOUD,
    KIND_ONEDRIVE_BUSINESS,
    KIND_ONEDRIVE_PERSONAL,
    CloudRoot,
    DiscoveryContext,
)

SYNC_ROOT_MANAGER = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\SyncRootManager"


@dataclass(frozen=True)
class SyncRootId:
    """A ``SyncRootManager`` subkey name split into its parts: ``<Provider>!<SID>!<Account>``.

    The account part may itself contain ``!``: personal OneDrive ids end ``!Personal|<cid>!125``.
    """

    provider: str
    sid: str
    account: str

    @property
    def account_type(self) -> str:
        """The account's type before any ``|<id>``: ``Personal``, ``Business1``, ``dbid:...``."""
        return self.account.partition("|")[0]


def parse_sync_root_id(name: str) -> SyncRootId:
    """Split a sync-root id at its first two ``!`` (the provider and SID never contain one)."""
    provider, _, rest = name.partition("!")
    sid, _, account = rest.partition("!")
    return SyncRootId(provider, sid, account)


def kind_for_key(name: str) -> str | None:
    """The destination kind of a ``SyncRootManager`` subkey name, None for unknown providers."""
    root = parse_sync_root_id(name)
    provider = root.provider.lower()
    account = root.account_type.lower()
    if provider.startswith("onedrive"):
        return KIND_ONEDRIVE_PERSONAL if account == "personal" else KIND_ONEDRIVE_BUSINESS
    if provider.startswith("dropbox"):
        return KIND_DROPBOX_BUSINESS if "business" in account else KIND_DROPBOX_PERSONAL
    if provider.startswith("googledrive"):
        return KIND_GDRIVE
    if provider.startswith("icloud"):
        return KIND_ICLOUD
    return None


def find(ctx: DiscoveryContext, *, user_sid: str | None = None) -> list[CloudRoot]:
    """Registered sync roots (Windows only) for ``user_sid`` (default ``ctx.user_sid``), else everyone's."""
    if not ctx.is_windows or ctx.registry is None:
        return []
    wanted = (user_sid or ctx.user_sid or "").upper()
    roots: list[CloudRoot] = []
    for name in ctx.registry.subkeys(SYNC_ROOT_MANAGER):
        kind = kind_for_key(name)
        if kind is None:
            continue
        for sid, folder in ctx.registry.values(rf"{SYNC_ROOT_MANAGER}\{name}\UserSyncRoots").items():
            if folder and (not wanted or sid.upper() == wanted):
                roots.append(CloudRoot(Path(ctx.expand(folder)), kind, "sync-root-manager"))
    return roots
