"""A Windows machine laid out under a test's temporary directory: ``C:\\`` is ``<root>/C``.

The registry is the exported sample ``tests/fixtures/egress/windows_three_users.reg``; its paths,
and the LocalSystem service's own environment, are moved under ``root`` (backslashes become
slashes, since this box is POSIX). Three people: user1 and jo.bloggs signed in, sam.testperson not.
"""

from __future__ import annotations

import json
import lzma
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.registry import HiveFileReader, RegistryReader
from tests.unit.egress.reg_file import RegFileRegistry

REG_EXPORT = Path(__file__).resolve().parents[2] / "fixtures" / "egress" / "windows_three_users.reg"
# A real user hive from regipy's test corpus (see fixtures/egress/hives/README.md).
REAL_HIVE = Path(__file__).resolve().parents[2] / "fixtures" / "egress" / "hives" / "NTUSER-WSL.DAT.xz"
USER1 = "S-1-5-21-3471133136-2963561160-3931775028-1001"
JO = "S-1-12-1-11700000-12300000-1832875930-630280000"
SAM = "S-1-5-21-3198801245-3580807-1487484180-1001"


@dataclass
class WindowsMachine:
    root: Path

    def path(self, windows_path: str) -> str:
        """A ``C:\\...`` path as it lives under ``root``."""
        return re.sub(r"(?i)^c:\\", f"{self.root}/C/", windows_path).replace("\\", "/")

    def map_text(self, text: str) -> str:
        return re.sub(r"(?i)\bc:\\[^;\"]*", lambda m: self.path(m.group(0)), text).replace("\\", "/")

    def registry(self) -> RegFileRegistry:
        return RegFileRegistry(REG_EXPORT, self.map_text)

    def hive_file(self, path: Path) -> RegistryReader:
        """The real offline reader over a hive file, its ``C:\\`` paths moved under ``root``."""
        return MappedHive(HiveFileReader(path), self.map_text)

    def place_real_hive(self, name: str) -> Path:
        """Put the real sample hive in ``C:\\Users\\<name>`` as that person's ``NTUSER.DAT``."""
        target = self.home(name) / "NTUSER.DAT"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(lzma.decompress(REAL_HIVE.read_bytes()))
        return target

    def service_env(self) -> dict[str, str]:
        """The environment of a LocalSystem service (its profile is systemprofile, not a person's)."""
        profile = self.path(r"C:\Windows\system32\config\systemprofile")
        return {
            "USERPROFILE": profile,
            "APPDATA": f"{profile}/AppData/Roaming",
            "LOCALAPPDATA": f"{profile}/AppData/Local",
            "USERNAME": "LAPTOP-7$",
            "SystemDrive": "C:",
            "SystemRoot": self.path(r"C:\Windows"),
            "ProgramData": self.path(r"C:\ProgramData"),
        }

    def home(self, name: str) -> Path:
        return Path(self.path(rf"C:\Users\{name}"))

    def lay_out(self) -> None:
        """Folders and client configuration on disk, as the three people's clients left them."""
        u1, jo, sam = self.home("user1"), self.home("jo.bloggs"), self.home("sam.testperson")
        system = Path(self.path(r"C:\Windows\system32\config\systemprofile"))
        for d in (
            u1 / "OneDrive" / "Desktop", u1 / "Dropbox", u1 / "Documents",
            jo / "OneDrive", jo / "OneDrive - Contoso" / "Documents", jo / "My Drive",
            jo / "AppData" / "Local" / "Google" / "DriveFS",
            sam / "OneDrive", sam / "iCloudDrive", sam / "Dropbox (Personal)",
            system / "iCloudDrive", system / "SYSTEM-Dropbox",
        ):
            d.mkdir(parents=True, exist_ok=True)
        self._dropbox(u1 / "AppData" / "Local", u1 / "Dropbox")
        self._dropbox(sam / "AppData" / "Roaming", sam / "Dropbox (Personal)")
        self._dropbox(system / "AppData" / "Local", system / "SYSTEM-Dropbox")  # the service's own: never watched

    @staticmethod
    def _dropbox(base: Path, root: Path) -> None:
        (base / "Dropbox").mkdir(parents=True, exist_ok=True)
        (base / "Dropbox" / "info.json").write_text(json.dumps({"personal": {"path": str(root), "host": 1}}))


class MappedHive:
    """A ``RegistryReader`` whose values have ``map_text`` applied (``C:\\`` paths moved under a root)."""

    def __init__(self, inner: RegistryReader, map_text: Callable[[str], str]) -> None:
        self._inner = inner
        self._map = map_text

    def subkeys(self, key: str) -> list[str]:
        return self._inner.subkeys(key)

    def values(self, key: str) -> dict[str, str]:
        return {name: self._map(data) for name, data in self._inner.values(key).items()}
