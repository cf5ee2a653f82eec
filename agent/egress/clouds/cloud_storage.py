"""macOS File Provider roots: every entry of ``~/Library/CloudStorage`` is a cloud sync root.

Names are ``<Provider>-<account or organisation>``: ``OneDrive-Personal`` versus
``OneDrive-<Organisation>`` (and ``OneDrive-SharedLibraries-<Organisation>``), ``Dropbox`` or
``Dropbox-Personal`` versus ``Dropbox-<Team>``, ``GoogleDrive-<account>``. Other providers
(Box, pCloud, ...) are reported as ``other_cloud``.
"""

from __future__ import annotations

from agent.egress.clouds import (
    KIND_DROPBOX_BUSINESS,
    KIND_DROPBOX_PERSONAL,
    KIND_GDRIVE,
    KIND_ONEDRIVE_BUSINESS,
    KIND_ONEDRIVE_PERSONAL,
    KIND_OTHER_CLOUD,
    CloudRoot,
    DiscoveryContext,
)


def kind_for_name(name: str) -> str:
    """The destination kind of a ``~/Library/CloudStorage`` entry name."""
    if name == "OneDrive-Personal":
        return KIND_ONEDRIVE_PERSONAL
    if name.startswith("OneDrive-"):
        return KIND_ONEDRIVE_BUSINESS
    if name in ("Dropbox", "Dropbox-Personal"):
        return KIND_DROPBOX_PERSONAL
    if name.startswith("Dropbox-"):
        return KIND_DROPBOX_BUSINESS
    if name.startswith("GoogleDrive-"):
        return KIND_GDRIVE
    return KIND_OTHER_CLOUD


def find(ctx: DiscoveryContext) -> list[CloudRoot]:
    """One root per entry of ``~/Library/CloudStorage`` (macOS only)."""
    if not ctx.is_macos:
        return []
    base = ctx.home / "Library" / "CloudStorage"
    try:
        entries = sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [CloudRoot(entry, kind_for_name(entry.name), "cloudstorage") for entry in entries]
