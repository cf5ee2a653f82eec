"""Windows volume source: drive letters, ``GetDriveTypeW`` and the storage bus type.

``GetDriveTypeW`` says ``DRIVE_FIXED`` for USB disks, so the bus type from
``IOCTL_STORAGE_QUERY_PROPERTY`` (``STORAGE_DEVICE_DESCRIPTOR.BusType``) decides: USB, SD and
MMC count as removable whatever the drive type says. The OS calls sit behind ``WindowsDiskApi``
so the decision logic and the descriptor parser are tested anywhere; the ctypes implementation
exists only on Windows.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from dataclasses import dataclass
from typing import Protocol

from agent.egress.model import (
    BUS_IMAGE,
    BUS_MMC,
    BUS_NVME,
    BUS_SATA,
    BUS_SD,
    BUS_UNKNOWN,
    BUS_USB,
    Volume,
    VolumeIdentity,
    serial_hmac,
)

DRIVE_REMOVABLE = 2
DRIVE_FIXED = 3

# STORAGE_BUS_TYPE values (winioctl.h) mapped to our bus names.
STORAGE_BUS_NAMES: dict[int, str] = {
    0x03: BUS_SATA,  # BusTypeAta
    0x07: BUS_USB,  # BusTypeUsb
    0x0B: BUS_SATA,  # BusTypeSata
    0x0C: BUS_SD,  # BusTypeSd
    0x0D: BUS_MMC,  # BusTypeMmc
    0x0F: BUS_IMAGE,  # BusTypeFileBackedVirtual (mounted VHD/ISO)
    0x11: BUS_NVME,  # BusTypeNvme
}
REMOVABLE_BUSES = frozenset({BUS_USB, BUS_SD, BUS_MMC})

# STORAGE_DEVICE_DESCRIPTOR up to BusType: Version, Size, DeviceType, DeviceTypeModifier,
# RemovableMedia, CommandQueueing, VendorIdOffset, ProductIdOffset, ProductRevisionOffset,
# SerialNumberOffset, BusType.
_DESCRIPTOR = struct.Struct("<IIBBBBIIIII")


@dataclass(frozen=True)
class StorageDescriptor:
    """The fields of ``STORAGE_DEVICE_DESCRIPTOR`` that identify a disk."""

    bus_type: int
    removable_media: bool
    vendor: str
    product: str
    serial: str


def parse_storage_descriptor(buf: bytes) -> StorageDescriptor | None:
    """Parse the descriptor ``IOCTL_STORAGE_QUERY_PROPERTY`` returns; None when it is too short."""
    if len(buf) < _DESCRIPTOR.size:
        return None
    (_, _, _, _, removable, _, vendor_at, product_at, _, serial_at, bus_type) = _DESCRIPTOR.unpack_from(buf)

    def string_at(offset: int) -> str:
        if offset == 0 or offset >= len(buf):
            return ""
        end = buf.find(b"\x00", offset)
        raw = buf[offset : end if end >= 0 else len(buf)]
        return raw.decode("ascii", errors="replace").strip()

    return StorageDescriptor(
        bus_type=bus_type,
        removable_media=bool(removable),
        vendor=string_at(vendor_at),
        product=string_at(product_at),
        serial=string_at(serial_at),
    )


class WindowsDiskApi(Protocol):
    """The handful of Win32 calls the volume source needs."""

    def drive_roots(self) -> list[str]:
        """Mounted drive roots, e.g. ``["C:\\\\", "E:\\\\"]``."""
        ...

    def drive_type(self, root: str) -> int:
        """``GetDriveTypeW``."""
        ...

    def volume_information(self, root: str) -> tuple[str, str] | None:
        """``(label, filesystem)`` from ``GetVolumeInformationW``, None when not ready."""
        ...

    def volume_guid(self, root: str) -> str:
        """``\\\\?\\Volume{...}\\`` for the drive."""
        ...

    def total_bytes(self, root: str) -> int:
        """Capacity from ``GetDiskFreeSpaceExW``."""
        ...

    def storage_descriptor(self, root: str) -> bytes | None:
        """Raw ``STORAGE_DEVICE_DESCRIPTOR`` for the drive's disk, None when it cannot be read."""
        ...


class WindowsVolumeSource:
    """Snapshots of removable drives; change detection is a plain poll."""

    def __init__(
        self,
        serial_key: bytes,
        *,
        api: WindowsDiskApi | None = None,
        system_drive: str | None = None,
    ) -> None:
        if api is None:
            api = _ctypes_api()
        self._serial_key = serial_key
        self._api = api
        self._system_drive = (system_drive or os.environ.get("SYSTEMDRIVE", "C:")).upper().rstrip("\\")

    def snapshot(self) -> frozenset[Volume]:
        """The removable drives mounted now."""
        volumes: set[Volume] = set()
        for root in self._api.drive_roots():
            if root.upper().rstrip("\\") == self._system_drive:
                continue
            volume = self.volume_for(root)
            if volume is not None:
                volumes.add(volume)
        return frozenset(volumes)

    def volume_for(self, root: str) -> Volume | None:
        """The removable volume at drive ``root``, or None."""
        drive_type = self._api.drive_type(root)
        if drive_type not in (DRIVE_REMOVABLE, DRIVE_FIXED):
            return None
        raw = self._api.storage_descriptor(root)
        descriptor = parse_storage_descriptor(raw) if raw else None
        bus = STORAGE_BUS_NAMES.get(descriptor.bus_type, BUS_UNKNOWN) if descriptor else BUS_UNKNOWN
        if not (drive_type == DRIVE_REMOVABLE or bus in REMOVABLE_BUSES):
            return None
        info = self._api.volume_information(root)
        if info is None:  # an empty card reader slot
            return None
        label, filesystem = info
        identity = VolumeIdentity(
            label=label,
            filesystem=filesystem,
            size_bytes=self._api.total_bytes(root),
            bus=bus,
            serial_hmac=serial_hmac(self._serial_key, descriptor.serial if descriptor else ""),
            removable_flag=drive_type == DRIVE_REMOVABLE,
            mount_point=root,
        )
        return Volume(identity=identity, mount_token=self._api.volume_guid(root), device=root[:2])

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """No notification is used: wait ``timeout`` (or until ``stop``)."""
        stop.wait(timeout)


if sys.platform != "win32":

    def _ctypes_api() -> WindowsDiskApi:
        raise OSError("the Windows volume source needs Windows")

else:  # pragma: no cover - exercised on Windows only
    import ctypes
    from ctypes import wintypes

    _IOCTL_STORAGE_QUERY_PROPERTY = 0x002D1400
    _FILE_SHARE_READ_WRITE = 0x1 | 0x2
    _OPEN_EXISTING = 3

    class _CtypesDiskApi:
        """``WindowsDiskApi`` over kernel32 via ctypes."""

        def __init__(self) -> None:
            k32 = ctypes.WinDLL("kernel32", use_last_error=True)
            k32.CreateFileW.restype = wintypes.HANDLE
            k32.CreateFileW.argtypes = [
                wintypes.LPCWSTR,
                wintypes.DWORD,
                wintypes.DWORD,
                wintypes.LPVOID,
                wintypes.DWORD,
                wintypes.DWORD,
                wintypes.HANDLE,
            ]
            k32.DeviceIoControl.argtypes = [
                wintypes.HANDLE,
                wintypes.DWORD,
                wintypes.LPVOID,
                wintypes.DWORD,
                wintypes.LPVOID,
                wintypes.DWORD,
                ctypes.POINTER(wintypes.DWORD),
                wintypes.LPVOID,
            ]
            self._k32 = k32
            self._invalid = wintypes.HANDLE(-1).value

        def drive_roots(self) -> list[str]:
            mask = int(self._k32.GetLogicalDrives())
            return [f"{chr(65 + i)}:\\" for i in range(26) if mask >> i & 1]

        def drive_type(self, root: str) -> int:
            return int(self._k32.GetDriveTypeW(root))

        def volume_information(self, root: str) -> tuple[str, str] | None:
            label = ctypes.create_unicode_buffer(261)
            filesystem = ctypes.create_unicode_buffer(261)
            ok = self._k32.GetVolumeInformationW(root, label, 261, None, None, None, filesystem, 261)
            return (label.value, filesystem.value) if ok else None

        def volume_guid(self, root: str) -> str:
            buf = ctypes.create_unicode_buffer(64)
            ok = self._k32.GetVolumeNameForVolumeMountPointW(root, buf, 64)
            return str(buf.value) if ok else root

        def total_bytes(self, root: str) -> int:
            total = ctypes.c_ulonglong(0)
            ok = self._k32.GetDiskFreeSpaceExW(root, None, ctypes.byref(total), None)
            return int(total.value) if ok else 0

        def storage_descriptor(self, root: str) -> bytes | None:
            handle = self._k32.CreateFileW(
                f"\\\\.\\{root[:2]}", 0, _FILE_SHARE_READ_WRITE, None, _OPEN_EXISTING, 0, None
            )
            if handle == self._invalid:
                return None
            try:
                query = ctypes.create_string_buffer(struct.pack("<III", 0, 0, 0), 12)
                out = ctypes.create_string_buffer(1024)
                returned = wintypes.DWORD(0)
                ok = self._k32.DeviceIoControl(
                    handle, _IOCTL_STORAGE_QUERY_PROPERTY, query, 12, out, 1024, ctypes.byref(returned), None
                )
                return bytes(out.raw[: returned.value]) if ok else None
            finally:
                self._k32.CloseHandle(handle)

    def _ctypes_api() -> WindowsDiskApi:
        return _CtypesDiskApi()
