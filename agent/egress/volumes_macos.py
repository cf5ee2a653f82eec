"""macOS volume source: the mounts under ``/Volumes`` described by ``diskutil info -plist``.

A volume counts as removable when diskutil says it is external (``Internal`` false), removable
or ejectable, or sits on a USB / SD / Thunderbolt bus. Writable disk images count too (a
case file copied into one leaves with it); read-only installer images do not.
``diskutil`` does not report the hardware serial, so ``serial_lookup`` (by BSD whole-disk name)
supplies it when the caller has one; by default there is none.
"""

from __future__ import annotations

import logging
import os
import plistlib
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.egress.model import (
    BUS_IMAGE,
    BUS_NVME,
    BUS_SATA,
    BUS_SD,
    BUS_THUNDERBOLT,
    BUS_UNKNOWN,
    BUS_USB,
    Volume,
    VolumeIdentity,
    serial_hmac,
)

logger = logging.getLogger(__name__)

BUS_PROTOCOLS: dict[str, str] = {
    "USB": BUS_USB,
    "Secure Digital": BUS_SD,
    "Thunderbolt": BUS_THUNDERBOLT,
    "PCI-Express": BUS_NVME,
    "Apple Fabric": BUS_NVME,
    "SATA": BUS_SATA,
    "Disk Image": BUS_IMAGE,
}
EXTERNAL_BUSES = frozenset({BUS_USB, BUS_SD, BUS_THUNDERBOLT})
_POLL_SLICE_S = 0.25


def run_diskutil_info(mount_point: str) -> bytes:
    """``diskutil info -plist <mount point>``; raises ``OSError`` when it fails."""
    try:
        done = subprocess.run(["diskutil", "info", "-plist", mount_point], capture_output=True, timeout=15, check=True)
    except (subprocess.SubprocessError, FileNotFoundError) as exc:
        raise OSError(f"diskutil failed: {type(exc).__name__}") from exc
    return done.stdout


def parse_diskutil_info(data: bytes) -> dict[str, Any]:
    """The plist ``diskutil info -plist`` prints, as a dict; ``ValueError`` if it is not one."""
    try:
        parsed = plistlib.loads(data)
    except plistlib.InvalidFileException as exc:
        raise ValueError("not a diskutil plist") from exc
    if not isinstance(parsed, dict):
        raise ValueError("diskutil plist is not a dictionary")
    return parsed


def volume_from_diskutil(
    info: Mapping[str, Any], serial_key: bytes, *, mount_token: str, serial: str = ""
) -> Volume | None:
    """The removable volume diskutil describes, or None when it is internal or read-only media."""
    bus = BUS_PROTOCOLS.get(str(info.get("BusProtocol", "")), BUS_UNKNOWN)
    removable_flag = bool(info.get("Removable") or info.get("RemovableMedia"))
    external = info.get("Internal") is False or bool(info.get("Ejectable"))
    if bus == BUS_IMAGE:
        removable = bool(info.get("WritableVolume"))
    else:
        removable = external or removable_flag or bus in EXTERNAL_BUSES
    mount_point = str(info.get("MountPoint", ""))
    if not removable or not mount_point or mount_point == "/":
        return None
    size = info.get("TotalSize", info.get("Size", 0))
    identity = VolumeIdentity(
        label=str(info.get("VolumeName", "")),
        filesystem=str(info.get("FilesystemType", info.get("FilesystemName", ""))),
        size_bytes=int(size) if isinstance(size, int) else 0,
        bus=bus,
        serial_hmac=serial_hmac(serial_key, serial),
        removable_flag=removable_flag,
        mount_point=mount_point,
    )
    return Volume(identity=identity, mount_token=mount_token, device=str(info.get("DeviceIdentifier", "")))


class MacVolumeSource:
    """Snapshots of removable volumes under ``/Volumes``; diskutil is asked once per mount."""

    def __init__(
        self,
        serial_key: bytes,
        *,
        volumes_root: Path = Path("/Volumes"),
        diskutil_info: Callable[[str], bytes] = run_diskutil_info,
        serial_lookup: Callable[[str], str] = lambda whole_disk: "",
    ) -> None:
        self._serial_key = serial_key
        self._root = volumes_root
        self._diskutil_info = diskutil_info
        self._serial_lookup = serial_lookup
        # (mount point, st_dev) -> volume or None; st_dev changes with every mount.
        self._cache: dict[tuple[str, int], Volume | None] = {}

    def snapshot(self) -> frozenset[Volume]:
        """The removable volumes mounted now."""
        seen: dict[tuple[str, int], Volume | None] = {}
        for entry in os.scandir(self._root):
            if entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
                continue  # the boot volume appears as a symlink to /
            key = (entry.path, entry.stat(follow_symlinks=False).st_dev)
            seen[key] = self._cache[key] if key in self._cache else self._describe(entry.path, key[1])
        self._cache = seen
        return frozenset(v for v in seen.values() if v is not None)

    def _describe(self, mount_point: str, st_dev: int) -> Volume | None:
        try:
            info = parse_diskutil_info(self._diskutil_info(mount_point))
        except (OSError, ValueError) as exc:
            logger.warning("diskutil could not describe a volume (%s)", type(exc).__name__)
            return None
        whole_disk = str(info.get("ParentWholeDisk", ""))
        return volume_from_diskutil(
            info,
            self._serial_key,
            mount_token=f"{info.get('DeviceIdentifier', '')}@{st_dev}",
            serial=self._serial_lookup(whole_disk) if whole_disk else "",
        )

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Return early when the set of names under ``/Volumes`` changes."""
        deadline = time.monotonic() + timeout
        before = self._names()
        while not stop.is_set() and time.monotonic() < deadline:
            stop.wait(min(_POLL_SLICE_S, max(0.0, deadline - time.monotonic())))
            if self._names() != before:
                return

    def _names(self) -> frozenset[str]:
        try:
            return frozenset(os.listdir(self._root))
        except OSError:
            return frozenset()
