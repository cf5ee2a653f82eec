"""iCloud Drive: ``~/Library/Mobile Documents/com~apple~CloudDocs`` (macOS) and
``%USERPROFILE%\\iCloudDrive`` (iCloud for Windows)."""

from __future__ import annotations

from pathlib import Path

from agent.egress.clouds import KIND_ICLOUD, CloudRoot, DiscoveryContext

CLOUD_DOCS = ("Library", "Mobile Documents", "com~apple~CloudDocs")


def find(ctx: DiscoveryContext) -> list[CloudRoot]:
    """The iCloud Drive root for this platform."""
    if ctx.is_macos:
        return [CloudRoot(ctx.home.joinpath(*CLOUD_DOCS), KIND_ICLOUD, "default-folder")]
    if ctx.is_windows:
        profile = ctx.getenv("USERPROFILE")
        base = Path(profile) if profile else ctx.home
        return [CloudRoot(base / "iCloudDrive", KIND_ICLOUD, "default-folder")]
    return []


def root_of(path: Path) -> Path | None:
    """The iCloud Drive root that ``path`` lies in, judged by the path alone, or None."""
    parts = path.parts
    for i in range(len(parts) - 2):
        if parts[i : i + 3] == CLOUD_DOCS:
            return Path(*parts[: i + 3])
    return None
