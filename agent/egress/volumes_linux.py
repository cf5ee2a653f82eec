"""Linux volume source: ``/proc/self/mountinfo`` for mounts, ``/sys`` and ``/dev/disk`` for facts.

A block-device mount counts as removable when its disk is on USB (the resolved ``/sys`` path
passes through a ``/usb`` node; USB disks often say ``removable=0``), is an SD card (``mmcblk``
with ``device/type`` ``SD``), says ``removable=1`` itself, or is a loop device mounted where
udisks mounts removable media (``/media/<user>/<label>``, ``/run/media/<user>/<label>``).
Device-mapper devices (LUKS-encrypted sticks) are followed to the disk beneath them.

Change detection: mountinfo signals ``POLLPRI`` when the mount table changes; where that does
not work the caller's poll interval still re-reads and compares the content.
"""

from __future__ import annotations

import logging
import os
import re
import select
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

if sys.platform == "win32":  # statvfs, poll and O_CLOEXEC are POSIX; volumes_windows serves Windows
    raise ImportError("agent.egress.volumes_linux runs only on POSIX systems")

from agent.egress.model import (
    BUS_LOOP,
    BUS_MMC,
    BUS_NVME,
    BUS_SATA,
    BUS_SD,
    BUS_UNKNOWN,
    BUS_USB,
    DEFAULT_MEDIA_ROOTS,
    Volume,
    VolumeIdentity,
    serial_hmac,
)
from agent.egress.mountinfo import MountEntry, parse_mountinfo

logger = logging.getLogger(__name__)


class _Poller(Protocol):
    """What this module uses of ``select.poll`` (named here so the module type-checks for every OS)."""

    def register(self, fd: int, eventmask: int = ..., /) -> None: ...

    def poll(self, timeout: float | None = ..., /) -> list[tuple[int, int]]: ...


# Never treated as a removable destination, even on a live USB system: watching these whole
# trees would report the operating system itself.
SYSTEM_MOUNT_POINTS = frozenset({"/", "/boot", "/boot/efi", "/efi", "/home", "/usr", "/var", "/opt", "/srv", "/tmp"})

_UDEV_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
_POLL_SLICE_S = 0.25
_MAX_DM_DEPTH = 4


@dataclass(frozen=True)
class BlockDevice:
    """What ``/sys`` says about the device behind one mount.

    ``sys_path`` is the resolved directory of the mounted device (a partition, a dm device, a
    loop device); ``disk_path`` that of the whole disk whose bus and removable flag count.
    """

    name: str
    disk: str
    sys_path: Path
    disk_path: Path
    bus: str
    removable_flag: bool
    removable: bool


class LinuxVolumeSource:
    """Snapshots of the removable volumes mounted in this process's mount namespace.

    All roots are injectable so tests can build fake ``/proc``, ``/sys`` and ``/dev`` trees.
    ``media_roots`` are compared with mount points as the kernel reports them (not re-rooted).
    """

    def __init__(
        self,
        serial_key: bytes,
        *,
        proc_root: Path = Path("/proc"),
        sys_root: Path = Path("/sys"),
        dev_root: Path = Path("/dev"),
        media_roots: Sequence[str] = DEFAULT_MEDIA_ROOTS,
        statvfs: Callable[[str], os.statvfs_result] = os.statvfs,
    ) -> None:
        self._serial_key = serial_key
        self._mountinfo = proc_root / "self" / "mountinfo"
        self._sys_root = sys_root
        self._sys_root_resolved = sys_root.resolve()
        self._dev_root = dev_root
        self._media_roots = tuple(root.rstrip("/") for root in media_roots)
        self._statvfs = statvfs
        self._last_data: bytes | None = None
        self._last_snapshot: frozenset[Volume] = frozenset()
        self._poller: _Poller | None = None
        self._poll_fd: int | None = None

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self) -> frozenset[Volume]:
        """The removable volumes mounted now (cached while mountinfo is byte-for-byte unchanged)."""
        data = self._mountinfo.read_bytes()
        if data == self._last_data:
            return self._last_snapshot
        volumes = frozenset(v for v in map(self.volume_for, parse_mountinfo(data)) if v is not None)
        self._last_data, self._last_snapshot = data, volumes
        return volumes

    def volume_for(self, entry: MountEntry) -> Volume | None:
        """The removable volume behind one mount, or None for anything else."""
        if entry.major == 0 or entry.root != "/" or entry.mount_point in SYSTEM_MOUNT_POINTS:
            return None
        device = self.block_device(entry.device_number, entry.mount_point)
        if device is None or not device.removable:
            return None
        identity = VolumeIdentity(
            label=self._label(device, entry.mount_point),
            filesystem=entry.fstype,
            size_bytes=self._size(device, entry.mount_point),
            bus=device.bus,
            serial_hmac=serial_hmac(self._serial_key, self._serial(device)),
            removable_flag=device.removable_flag,
            mount_point=entry.mount_point,
        )
        return Volume(identity=identity, mount_token=str(entry.mount_id), device=entry.device_number)

    def block_device(self, device_number: str, mount_point: str) -> BlockDevice | None:
        """Resolve ``major:minor`` through ``/sys/dev/block`` and decide whether it is removable."""
        link = self._sys_root / "dev" / "block" / device_number
        if not link.exists():
            return None
        sys_path = link.resolve()
        disk_path = self._whole_disk(sys_path)
        name, disk = sys_path.name, disk_path.name
        removable_flag = _read_text(disk_path / "removable") == "1"
        where = self._relative(disk_path)
        if disk.startswith("loop"):
            bus, removable = BUS_LOOP, self._is_udisks_mount(mount_point)
        elif "/usb" in where:
            bus, removable = BUS_USB, True
        elif disk.startswith("mmcblk"):
            # eMMC soldered to the board reports type "MMC"; cards in a slot report "SD".
            card_type = _read_text(disk_path / "device" / "type")
            bus = BUS_MMC if card_type == "MMC" else BUS_SD
            removable = bus == BUS_SD or removable_flag
        elif disk.startswith("nvme"):
            bus, removable = BUS_NVME, removable_flag
        elif "/ata" in where:
            bus, removable = BUS_SATA, removable_flag
        else:
            bus, removable = BUS_UNKNOWN, removable_flag
        return BlockDevice(name, disk, sys_path, disk_path, bus, removable_flag, removable)

    def _whole_disk(self, sys_path: Path) -> Path:
        path = sys_path
        for _ in range(_MAX_DM_DEPTH):
            if (path / "partition").exists():
                path = path.parent
            if not path.name.startswith("dm-"):
                return path
            slaves = sorted((path / "slaves").glob("*"))
            if not slaves:
                return path
            path = slaves[0].resolve()
        return path

    def _relative(self, path: Path) -> str:
        try:
            return "/" + path.relative_to(self._sys_root_resolved).as_posix()
        except ValueError:
            return path.as_posix()

    def _is_udisks_mount(self, mount_point: str) -> bool:
        for root in self._media_roots:
            if mount_point.startswith(root + "/"):
                rest = mount_point[len(root) + 1 :]
                parts = rest.split("/")
                if len(parts) == 2 and all(parts):
                    return True
        return False

    # -- identity facts ----------------------------------------------------------------------

    def _label(self, device: BlockDevice, mount_point: str) -> str:
        by_label = self._dev_root / "disk" / "by-label"
        for link in _listdir(by_label):
            if _link_target_name(link) == device.name:
                return _decode_udev(link.name)
        if self._is_udisks_mount(mount_point):
            return mount_point.rsplit("/", 1)[1]
        return ""

    def _size(self, device: BlockDevice, mount_point: str) -> int:
        sectors = _read_text(device.sys_path / "size")
        if sectors is not None and sectors.isdigit():
            return int(sectors) * 512  # /sys counts 512-byte sectors whatever the device's own size
        try:
            st = self._statvfs(mount_point)
        except OSError:
            return 0
        return st.f_blocks * st.f_frsize

    def _serial(self, device: BlockDevice) -> str:
        if device.bus == BUS_LOOP:
            return ""
        if device.bus == BUS_USB:
            serial = self._usb_serial(device.disk_path)
            if serial:
                return serial
        for candidate in (device.disk_path / "device" / "serial", device.disk_path / "serial"):
            text = _read_text(candidate)
            if text:
                return text
        return self._by_id_name(device.disk)

    def _usb_serial(self, disk_path: Path) -> str:
        """The iSerial of the USB device the disk hangs from (the first ancestor with idVendor)."""
        devices = self._sys_root_resolved / "devices"
        for ancestor in disk_path.parents:
            if ancestor == devices or devices not in ancestor.parents:
                break
            if (ancestor / "idVendor").exists():
                return _read_text(ancestor / "serial") or ""
        return ""

    def _by_id_name(self, disk: str) -> str:
        """Last resort: a stable ``/dev/disk/by-id`` name of the whole disk (holds the serial)."""
        names = sorted(
            link.name
            for link in _listdir(self._dev_root / "disk" / "by-id")
            if not link.name.startswith("wwn-") and _link_target_name(link) == disk
        )
        return names[0] if names else ""

    # -- change detection --------------------------------------------------------------------

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Block until mountinfo signals a change, ``timeout`` passes or ``stop`` is set."""
        deadline = time.monotonic() + timeout
        poller = self._ensure_poller()
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            slice_s = min(remaining, _POLL_SLICE_S)
            if poller is None:
                stop.wait(slice_s)
                continue
            if any(mask & (select.POLLPRI | select.POLLERR) for _, mask in poller.poll(slice_s * 1000)):
                return

    def _ensure_poller(self) -> _Poller | None:
        if self._poller is None and self._poll_fd is None and hasattr(select, "poll"):
            try:
                self._poll_fd = os.open(self._mountinfo, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                logger.warning("mountinfo cannot be opened for POLLPRI; polling by content instead")
                self._poll_fd = -1
                return None
            self._poller = select.poll()
            self._poller.register(self._poll_fd, select.POLLPRI | select.POLLERR)
        return self._poller

    def close(self) -> None:
        """Release the mountinfo descriptor used for change notification."""
        if self._poll_fd is not None and self._poll_fd >= 0:
            os.close(self._poll_fd)
        self._poll_fd, self._poller = None, None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _listdir(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except OSError:
        return []


def _link_target_name(link: Path) -> str:
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return ""


def _decode_udev(name: str) -> str:
    """Undo udev's ``\\xHH`` escaping of ``/dev/disk/by-label`` names."""
    raw = _UDEV_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), os.fsencode(name))
    return raw.decode("utf-8", errors="replace")
