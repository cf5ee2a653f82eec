"""Windows and macOS volume sources (parsers and decisions on fixtures), the psutil fallback and backend choice."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from types import SimpleNamespace

from agent.egress.model import serial_hmac
from agent.egress.volumes import default_volume_source
from agent.egress.volumes_linux import LinuxVolumeSource
from agent.egress.volumes_macos import MacVolumeSource, parse_diskutil_info, volume_from_diskutil
from agent.egress.volumes_psutil import PsutilVolumeSource
from agent.egress.volumes_windows import (
    DRIVE_FIXED,
    DRIVE_REMOVABLE,
    WindowsVolumeSource,
    parse_storage_descriptor,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "egress"
KEY = b"k"


# -- Windows -----------------------------------------------------------------------------------


def descriptor(
    bus_type: int, *, removable: bool, vendor: str = "Kingston", product: str = "DataTraveler", serial: str = ""
) -> bytes:
    """A STORAGE_DEVICE_DESCRIPTOR as IOCTL_STORAGE_QUERY_PROPERTY returns it."""
    header = struct.calcsize("<IIBBBBIIIIII")
    strings = b""
    offsets = []
    for text in (vendor, product, "1.00", serial):
        if text:
            offsets.append(header + len(strings))
            strings += text.encode() + b"\x00"
        else:
            offsets.append(0)
    size = header + len(strings)
    body = struct.pack("<IIBBBBIIIIII", 1, size, 0, 0, int(removable), 0, *offsets, bus_type, 0)
    return body + strings


class FakeDiskApi:
    def __init__(self, drives: dict[str, dict]) -> None:
        self.drives = drives

    def drive_roots(self) -> list[str]:
        return [r for r in self.drives if len(r) == 3]

    def mount_points(self) -> list[str]:
        return list(self.drives)

    def hotplug_info(self, root: str):
        return self.drives[root].get("hotplug")

    def drive_type(self, root: str) -> int:
        return self.drives[root]["type"]

    def volume_information(self, root: str):
        return self.drives[root].get("info")

    def volume_guid(self, root: str) -> str:
        return self.drives[root].get("guid", f"\\\\?\\Volume{{{root[0]}}}\\")

    def total_bytes(self, root: str) -> int:
        return self.drives[root].get("size", 0)

    def storage_descriptor(self, root: str):
        return self.drives[root].get("descriptor")


def test_parse_storage_descriptor():
    parsed = parse_storage_descriptor(descriptor(7, removable=True, serial="  4C5300012304 "))
    assert parsed is not None
    assert (parsed.bus_type, parsed.removable_media, parsed.vendor, parsed.product, parsed.serial) == (
        7,
        True,
        "Kingston",
        "DataTraveler",
        "4C5300012304",
    )
    assert parse_storage_descriptor(b"short") is None
    nvme = parse_storage_descriptor(descriptor(0x11, removable=False))
    assert nvme is not None and nvme.serial == ""


def test_windows_usb_disk_reported_fixed_is_removable_by_bus_type():
    api = FakeDiskApi(
        {
            "C:\\": {"type": DRIVE_FIXED, "info": ("OS", "NTFS"), "descriptor": descriptor(0x11, removable=False)},
            "D:\\": {"type": DRIVE_FIXED, "info": ("Data", "NTFS"), "descriptor": descriptor(0x0B, removable=False)},
            "E:\\": {
                "type": DRIVE_REMOVABLE,
                "info": ("KINGSTON", "FAT32"),
                "size": 32 * 10**9,
                "descriptor": descriptor(7, removable=True, serial="4C530001"),
            },
            "F:\\": {
                "type": DRIVE_FIXED,
                "info": ("My Passport", "exFAT"),
                "size": 10**12,
                "descriptor": descriptor(7, removable=False, serial="575836314142"),
            },
            "G:\\": {"type": DRIVE_REMOVABLE, "info": None, "descriptor": descriptor(0x0C, removable=True)},
            "H:\\": {
                "type": DRIVE_REMOVABLE,
                "info": ("SDCARD", "exFAT"),
                "descriptor": descriptor(0x0C, removable=True),
            },
            "Z:\\": {"type": 4, "info": ("share", "NTFS")},  # network drive
        }
    )
    source = WindowsVolumeSource(KEY, api=api, system_drive="C:")
    volumes = {v.identity.mount_point: v.identity for v in source.snapshot()}
    assert set(volumes) == {"E:\\", "F:\\", "H:\\"}
    assert volumes["E:\\"].bus == "usb" and volumes["E:\\"].removable_flag is True
    assert volumes["E:\\"].serial_hmac == serial_hmac(KEY, "4C530001")
    assert volumes["F:\\"].bus == "usb" and volumes["F:\\"].removable_flag is False
    assert volumes["F:\\"].label == "My Passport" and volumes["F:\\"].size_bytes == 10**12
    assert volumes["H:\\"].bus == "sd"


def test_windows_system_drive_on_usb_is_never_a_destination():
    api = FakeDiskApi(
        {"C:\\": {"type": DRIVE_FIXED, "info": ("OS", "NTFS"), "descriptor": descriptor(7, removable=False)}}
    )
    assert WindowsVolumeSource(KEY, api=api, system_drive="c:").snapshot() == frozenset()


def hotplug(*, device: bool, media: bool = False) -> bytes:
    """A STORAGE_HOTPLUG_INFO as IOCTL_STORAGE_GET_HOTPLUG_INFO returns it."""
    return struct.pack("<IBBBB", 8, int(media), int(media), int(device), 0)


def test_external_nvme_and_thunderbolt_disks_are_removable_by_their_hotplug_facts():
    api = FakeDiskApi(
        {
            "C:\\": {"type": DRIVE_FIXED, "info": ("OS", "NTFS"), "descriptor": descriptor(0x11, removable=False),
                      "hotplug": hotplug(device=False)},
            "D:\\": {"type": DRIVE_FIXED, "info": ("Data", "NTFS"), "descriptor": descriptor(0x11, removable=False),
                      "hotplug": hotplug(device=False)},
            # A Thunderbolt NVMe enclosure: bus NVMe, fixed, no removable media, but the device is hot-pluggable.
            "E:\\": {"type": DRIVE_FIXED, "info": ("T7 Shield", "exFAT"), "size": 2 * 10**12,
                      "descriptor": descriptor(0x11, removable=False, serial="S6XNNS0T123"),
                      "hotplug": hotplug(device=True)},
            # A SATA disk in an eSATA / Thunderbolt dock, removable only by the descriptor's RemovableMedia.
            "F:\\": {"type": DRIVE_FIXED, "info": ("Dock", "NTFS"), "descriptor": descriptor(0x0B, removable=True)},
        }
    )
    volumes = {v.identity.mount_point: v.identity for v in WindowsVolumeSource(KEY, api=api, system_drive="C:",
                                                                               notify=False).snapshot()}
    assert set(volumes) == {"E:\\", "F:\\"}
    assert volumes["E:\\"].bus == "nvme" and volumes["E:\\"].removable_flag is False


def test_a_stick_mounted_in_a_folder_is_a_destination():
    folder = "C:\\Mounts\\Stick\\"
    api = FakeDiskApi(
        {
            "C:\\": {"type": DRIVE_FIXED, "info": ("OS", "NTFS"), "descriptor": descriptor(0x11, removable=False)},
            folder: {"type": DRIVE_FIXED, "info": ("STICK", "FAT32"), "guid": "\\\\?\\Volume{5a1e}\\",
                     "descriptor": descriptor(7, removable=True, serial="AA01")},
        }
    )
    (volume,) = WindowsVolumeSource(KEY, api=api, system_drive="C:", notify=False).snapshot()
    assert volume.identity.mount_point == folder and volume.device == folder and volume.identity.bus == "usb"
    assert volume.mount_token == "\\\\?\\Volume{5a1e}\\"


def test_parse_hotplug_info():
    from agent.egress.volumes_windows import parse_hotplug_info

    parsed = parse_hotplug_info(hotplug(device=True))
    assert parsed is not None and parsed.device_hotplug and not parsed.media_removable
    assert parse_hotplug_info(b"\x08\x00") is None


def test_windows_wait_returns_on_device_arrival_and_otherwise_after_the_timeout():
    import threading
    import time

    class Changes:
        changed = threading.Event()

    changes = Changes()
    source = WindowsVolumeSource(KEY, api=FakeDiskApi({}), changes=changes)
    stop = threading.Event()
    threading.Timer(0.2, changes.changed.set).start()
    started = time.monotonic()
    source.wait_for_change(stop, 10.0)
    assert time.monotonic() - started < 2.0 and not changes.changed.is_set()
    started = time.monotonic()
    source.wait_for_change(stop, 0.6)
    assert 0.5 <= time.monotonic() - started < 2.0
    assert WindowsVolumeSource(KEY, api=FakeDiskApi({}))._changes is None  # off Windows: no notifier, polled


# -- macOS -----------------------------------------------------------------------------------


def plist(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_diskutil_usb_stick():
    info = parse_diskutil_info(plist("diskutil_info_usb_stick.plist"))
    volume = volume_from_diskutil(info, KEY, mount_token="disk4s1@16777236", serial="AA0102")
    assert volume is not None
    identity = volume.identity
    assert (identity.label, identity.filesystem, identity.bus, identity.mount_point) == (
        "KINGSTON",
        "msdos",
        "usb",
        "/Volumes/KINGSTON",
    )
    assert identity.size_bytes == 31042043904
    assert identity.removable_flag is True
    assert identity.serial_hmac == serial_hmac(KEY, "AA0102")
    assert volume.device == "disk4s1"


def test_diskutil_internal_and_read_only_image_are_not_removable():
    for name in ("diskutil_info_internal_apfs.plist", "diskutil_info_installer_dmg.plist"):
        assert volume_from_diskutil(parse_diskutil_info(plist(name)), KEY, mount_token="t") is None


def test_diskutil_garbage_is_a_value_error():
    import pytest

    with pytest.raises(ValueError):
        parse_diskutil_info(b"not a plist")


def test_mac_source_asks_diskutil_once_per_mount(tmp_path: Path):
    volumes_root = tmp_path / "Volumes"
    (volumes_root / "KINGSTON").mkdir(parents=True)
    (volumes_root / "Macintosh HD").symlink_to("/")
    calls: list[str] = []

    def diskutil(mount_point: str) -> bytes:
        calls.append(mount_point)
        return plist("diskutil_info_usb_stick.plist")

    source = MacVolumeSource(KEY, volumes_root=volumes_root, diskutil_info=diskutil)
    first = source.snapshot()
    second = source.snapshot()
    assert first == second and len(first) == 1
    assert calls == [str(volumes_root / "KINGSTON")]


def test_mac_wait_returns_early_when_volumes_change(tmp_path: Path):
    volumes_root = tmp_path / "Volumes"
    volumes_root.mkdir()
    source = MacVolumeSource(KEY, volumes_root=volumes_root, diskutil_info=lambda m: b"")
    timer = threading.Timer(0.1, lambda: (volumes_root / "NEW").mkdir())
    timer.start()
    import time

    started = time.monotonic()
    source.wait_for_change(threading.Event(), timeout=5)
    timer.join()
    assert time.monotonic() - started < 2


# -- fallback and choice -----------------------------------------------------------------------


def test_psutil_fallback_source(tmp_path: Path):
    parts = [
        SimpleNamespace(device="/dev/sdb1", mountpoint="/media/u/STICK", fstype="vfat", opts="rw"),
        SimpleNamespace(device="E:\\", mountpoint="E:\\", fstype="FAT32", opts="rw,removable"),
        SimpleNamespace(device="/dev/vda", mountpoint="/", fstype="ext4", opts="rw"),
    ]
    source = PsutilVolumeSource(
        KEY,
        partitions=lambda: parts,
        disk_usage=lambda p: SimpleNamespace(total=123),
        stat=lambda p: os.stat_result((0o40755, 1, 42, 1, 0, 0, 4096, 0, 0, 0)),
    )
    volumes = {v.identity.mount_point: v.identity for v in source.snapshot()}
    assert set(volumes) == {"/media/u/STICK", "E:\\"}
    assert volumes["/media/u/STICK"].label == "STICK" and volumes["E:\\"].removable_flag is True


def test_backend_choice():
    linux = default_volume_source(KEY, platform="linux")
    assert isinstance(linux, LinuxVolumeSource)
    linux.close()
    # Windows and macOS backends cannot start here: the psutil fallback is used, with a warning.
    assert isinstance(default_volume_source(KEY, platform="win32"), PsutilVolumeSource)
    assert isinstance(default_volume_source(KEY, platform="freebsd"), PsutilVolumeSource)
