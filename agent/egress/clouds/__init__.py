"""Where each cloud-sync client keeps its local root, read from the client's own configuration.

Each module here has ``find(ctx) -> list[CloudRoot]``; they only report what the client's
configuration says. Whether a root exists, is approved or is a duplicate is decided once in
:mod:`agent.egress.personal_dirs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.registry import RegistryReader

# destination_kind values.
KIND_ONEDRIVE_PERSONAL = "onedrive_personal"
KIND_ONEDRIVE_BUSINESS = "onedrive_business"
KIND_DROPBOX_PERSONAL = "dropbox_personal"
KIND_DROPBOX_BUSINESS = "dropbox_business"
KIND_GDRIVE = "gdrive"
KIND_ICLOUD = "icloud"
KIND_OTHER_CLOUD = "other_cloud"
KIND_CONFIGURED = "configured"

# Organisation accounts: personal only when IT has not approved them (see personal_dirs).
BUSINESS_KINDS = frozenset({KIND_ONEDRIVE_BUSINESS, KIND_DROPBOX_BUSINESS})

_ENV_REFERENCE = re.compile(r"%([^%]+)%")


@dataclass(frozen=True)
class DiscoveryContext:
    """What discovery may look at: the OS, the user's home, environment and registry.

    ``user_sid`` (Windows) is whose sync roots to report from the machine-wide list; None: everyone's.
    """

    platform: str
    home: Path
    env: Mapping[str, str]
    registry: RegistryReader | None = None
    user_sid: str | None = None

    @property
    def is_windows(self) -> bool:
        """True on Windows."""
        return self.platform == "win32"

    @property
    def is_macos(self) -> bool:
        """True on macOS."""
        return self.platform == "darwin"

    def getenv(self, name: str) -> str | None:
        """An environment variable; case-insensitive on Windows, as Windows is. Empty reads as None."""
        found = self.env.get(name)
        if found is None and self.is_windows:
            wanted = name.upper()
            found = next((v for k, v in self.env.items() if k.upper() == wanted), None)
        return found or None

    def expand(self, text: str) -> str:
        """Expand ``%VAR%`` references the way ``REG_EXPAND_SZ`` values need; unknown ones stay."""
        return _ENV_REFERENCE.sub(lambda m: self.getenv(m.group(1)) or m.group(0), text)


@dataclass(frozen=True)
class CloudRoot:
    """A local root a client syncs, as its configuration names it. ``source`` is for diagnostics."""

    path: Path
    kind: str
    source: str
