"""Windows volume source: every mount point of every volume, and the disk's removability facts.

Volumes are found by ``FindFirstVolumeW`` / ``GetVolumePathNamesForVolumeNameW``, so a stick
mounted in a folder (``C:\\Mounts\\Stick\\``) counts as much as one with a drive letter.
``GetDriveTypeW`` says ``DRIVE_FIXED`` for USB disks, so the facts of the disk decide: the bus
type from ``IOCTL_STORAGE_QUERY_PROPERTY`` (USB, SD and MMC are removable), the descriptor's
``RemovableMedia``, and ``IOCTL_STORAGE_GET_HOTPLUG_INFO``'s ``DeviceHotplug``, which is how an
external NVMe or Thunderbolt disk (bus type NVMe or SATA, like the internal one) tells itself
apart. Arrivals and removals wake the monitor through ``WM_DEVICECHANGE`` for volume device
interfaces (a hidden window registered with ``RegisterDeviceNotificationW``); the poll interval
still applies when notification cannot be set up.

The OS calls sit behind ``WindowsDiskApi`` so the decision logic and the parsers are tested
anywhere; the ctypes implementation exists only on Windows and has not run on a real machine.
Phones over MTP/WPD have no volume at all: :mod:`agent.egress.portable_windows` reports them, woken
by the same notification registered for the WPD device interface.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

DRIVE_REMOVABLE = 2
DRIVE_FIXED = 3
# STORAGE_HOTPLUG_INFO: Size (DWORD), MediaRemovable, MediaHotplug, DeviceHotplug, WriteCacheEnableOverride.
_HOTPLUG = struct.Struct("<IBBBB")

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


@dataclass(frozen=True)
class HotplugInfo:
    """``STORAGE_HOTPLUG_INFO``: whether the media or the whole device can be removed while running."""

    media_removable: bool
    media_hotplug: bool
    device_hotplug: bool


def parse_hotplug_info(buf: bytes) -> HotplugInfo | None:
    """Parse what ``IOCTL_STORAGE_GET_HOTPLUG_INFO`` returns; None when it is too short."""
    if len(buf) < _HOTPLUG.size:
        return None
    _, media_removable, media_hotplug, device_hotplug, _ = _HOTPLUG.unpack_from(buf)
    return HotplugInfo(bool(media_removable), bool(media_hotplug), bool(device_hotplug))


def is_removable(drive_type: int, bus: str, descriptor: StorageDescriptor | None, hotplug: HotplugInfo | None) -> bool:
    """The removability facts, any of which makes a volume a removable destination."""
    if drive_type == DRIVE_REMOVABLE or bus in REMOVABLE_BUSES:
        return True
    if descriptor is not None and descriptor.removable_media:
        return True
    return hotplug is not None and (hotplug.device_hotplug or hotplug.media_removable)


class WindowsDiskApi(Protocol):
    """The handful of Win32 calls the volume source needs."""

    def drive_roots(self) -> list[str]:
        """Mounted drive roots, e.g. ``["C:\\\\", "E:\\\\"]``."""
        ...

    def mount_points(self) -> list[str]:
        """Every mount path of every volume: drive roots and folders (``C:\\\\Mounts\\\\Stick\\\\``)."""
        ...

    def hotplug_info(self, root: str) -> bytes | None:
        """Raw ``STORAGE_HOTPLUG_INFO`` for the volume's device, None when it cannot be read."""
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


class ChangeSignal(Protocol):
    """Something that sets ``changed`` when volumes may have come or gone."""

    changed: threading.Event


class WindowsVolumeSource:
    """Snapshots of removable volumes; woken by device-arrival notification, else polled."""

    def __init__(
        self,
        serial_key: bytes,
        *,
        api: WindowsDiskApi | None = None,
        system_drive: str | None = None,
        changes: ChangeSignal | None = None,
        notify: bool = True,
    ) -> None:
        if api is None:
            api = _ctypes_api()
        self._changes = changes if changes is not None else (_device_notifier() if notify else None)
        self._serial_key = serial_key
        self._api = api
        self._system_drive = (system_drive or os.environ.get("SYSTEMDRIVE", "C:")).upper().rstrip("\\")

    def snapshot(self) -> frozenset[Volume]:
        """The removable volumes mounted now, at drive letters or in folders."""
        volumes: set[Volume] = set()
        roots = self._api.mount_points() or self._api.drive_roots()
        for root in roots:
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
        raw_hotplug = self._api.hotplug_info(root)
        hotplug = parse_hotplug_info(raw_hotplug) if raw_hotplug else None
        if not is_removable(drive_type, bus, descriptor, hotplug):
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
        device = root[:2] if len(root.rstrip("\\")) == 2 else root  # a letter, or the folder it is mounted in
        return Volume(identity=identity, mount_token=self._api.volume_guid(root), device=device)

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        """Until a volume arrives or leaves (``WM_DEVICECHANGE``), ``timeout`` passes or ``stop`` is set."""
        changed = self._changes.changed if self._changes is not None else None
        if changed is None:
            stop.wait(timeout)
            return
        waited = 0.0
        while waited < timeout and not stop.is_set():
            slice_s = min(0.5, timeout - waited)
            if changed.wait(slice_s):
                changed.clear()
                return
            waited += slice_s


if sys.platform != "win32":

    def _ctypes_api() -> WindowsDiskApi:
        raise OSError("the Windows volume source needs Windows")

    def _device_notifier(interface: str = "volume") -> ChangeSignal | None:
        return None

else:  # pragma: no cover - exercised on Windows only
    import ctypes
    from ctypes import wintypes

    _IOCTL_STORAGE_QUERY_PROPERTY = 0x002D1400
    _IOCTL_STORAGE_GET_HOTPLUG_INFO = 0x002D0C14
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
            k32.FindFirstVolumeW.restype = wintypes.HANDLE
            k32.FindFirstVolumeW.argtypes = [wintypes.LPWSTR, wintypes.DWORD]
            k32.FindNextVolumeW.argtypes = [wintypes.HANDLE, wintypes.LPWSTR, wintypes.DWORD]
            k32.FindVolumeClose.argtypes = [wintypes.HANDLE]
            k32.GetVolumePathNamesForVolumeNameW.argtypes = [
                wintypes.LPCWSTR,
                wintypes.LPWSTR,
                wintypes.DWORD,
                ctypes.POINTER(wintypes.DWORD),
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

        def _device_path(self, root: str) -> str:
            """``\\\\.\\E:`` for a drive letter, ``\\\\?\\Volume{...}`` (no trailing slash) for a folder mount."""
            if len(root.rstrip("\\")) == 2:
                return f"\\\\.\\{root[:2]}"
            return self.volume_guid(root).rstrip("\\")

        def _ioctl(self, root: str, code: int, query: bytes) -> bytes | None:
            path = self._device_path(root)
            handle = self._k32.CreateFileW(path, 0, _FILE_SHARE_READ_WRITE, None, _OPEN_EXISTING, 0, None)
            if handle == self._invalid:
                return None
            try:
                inbuf = ctypes.create_string_buffer(query, max(len(query), 1))
                out = ctypes.create_string_buffer(1024)
                returned = wintypes.DWORD(0)
                ok = self._k32.DeviceIoControl(
                    handle, code, inbuf if query else None, len(query), out, 1024, ctypes.byref(returned), None
                )
                return bytes(out.raw[: returned.value]) if ok else None
            finally:
                self._k32.CloseHandle(handle)

        def storage_descriptor(self, root: str) -> bytes | None:
            return self._ioctl(root, _IOCTL_STORAGE_QUERY_PROPERTY, struct.pack("<III", 0, 0, 0))

        def hotplug_info(self, root: str) -> bytes | None:
            return self._ioctl(root, _IOCTL_STORAGE_GET_HOTPLUG_INFO, b"")

        def mount_points(self) -> list[str]:
            name = ctypes.create_unicode_buffer(64)
            find = self._k32.FindFirstVolumeW(name, 64)
            if find == self._invalid:
                return []
            paths: list[str] = []
            try:
                while True:
                    buf = ctypes.create_unicode_buffer(1024)
                    length = wintypes.DWORD(0)
                    if self._k32.GetVolumePathNamesForVolumeNameW(name.value, buf, 1024, ctypes.byref(length)):
                        paths.extend(p for p in ctypes.wstring_at(buf, length.value).split("\0") if p)
                    if not self._k32.FindNextVolumeW(find, name, 64):
                        return paths
            finally:
                self._k32.FindVolumeClose(find)

    def _ctypes_api() -> WindowsDiskApi:
        return _CtypesDiskApi()

    _WM_DEVICECHANGE = 0x0219
    _WM_CLOSE = 0x0010
    _DBT_DEVICEARRIVAL = 0x8000
    _DBT_DEVICEREMOVECOMPLETE = 0x8004
    _DBT_DEVTYP_DEVICEINTERFACE = 0x00000005
    _DEVICE_NOTIFY_WINDOW_HANDLE = 0x00000000
    # GUID_DEVINTERFACE_VOLUME {53F5630D-B6BF-11D0-94F2-00A0C91EFB8B}
    _VOLUME_INTERFACE = (0x53F5630D, 0xB6BF, 0x11D0, (0x94, 0xF2, 0x00, 0xA0, 0xC9, 0x1E, 0xFB, 0x8B))
    # GUID_DEVINTERFACE_WPD {6AC27878-A6FA-4155-BA85-F98F491D4F33}: phones and cameras over MTP/PTP
    _WPD_INTERFACE = (0x6AC27878, 0xA6FA, 0x4155, (0xBA, 0x85, 0xF9, 0x8F, 0x49, 0x1D, 0x4F, 0x33))
    _INTERFACES = {"volume": _VOLUME_INTERFACE, "wpd": _WPD_INTERFACE}
    _WNDPROC = ctypes.WINFUNCTYPE(ctypes.c_ssize_t, wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM)

    class _GUID(ctypes.Structure):
        _fields_ = [("Data1", wintypes.DWORD), ("Data2", wintypes.WORD), ("Data3", wintypes.WORD),
                    ("Data4", wintypes.BYTE * 8)]

    class _DevBroadcastInterface(ctypes.Structure):
        _fields_ = [("dbcc_size", wintypes.DWORD), ("dbcc_devicetype", wintypes.DWORD),
                    ("dbcc_reserved", wintypes.DWORD), ("dbcc_classguid", _GUID), ("dbcc_name", wintypes.WCHAR * 1)]

    class _WndClass(ctypes.Structure):
        _fields_ = [("style", wintypes.UINT), ("lpfnWndProc", _WNDPROC), ("cbClsExtra", ctypes.c_int),
                    ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE), ("hIcon", wintypes.HICON),
                    ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                    ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR)]

    class _DeviceChangeNotifier:
        """A hidden window, on its own thread, told of one device interface arriving and leaving."""

        def __init__(self, interface: str = "volume") -> None:
            self._interface = _INTERFACES[interface]
            self._class_name = f"CaseguardDeviceChange-{interface}"  # one window class per interface
            self.changed = threading.Event()
            self._ready = threading.Event()
            self._error: str | None = None
            self._proc = _WNDPROC(self._window_proc)  # kept alive as long as the window
            threading.Thread(target=self._run, name="caseguard-device-change", daemon=True).start()
            self._ready.wait(5)
            if self._error is not None:
                raise OSError(self._error)

        def _window_proc(self, hwnd: int, message: int, wparam: int, lparam: int) -> int:
            if message == _WM_DEVICECHANGE and wparam in (_DBT_DEVICEARRIVAL, _DBT_DEVICEREMOVECOMPLETE):
                self.changed.set()
            return int(ctypes.windll.user32.DefWindowProcW(hwnd, message, wparam, lparam))

        def _run(self) -> None:
            user32 = ctypes.windll.user32
            user32.DefWindowProcW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]
            user32.DefWindowProcW.restype = ctypes.c_ssize_t
            instance = ctypes.windll.kernel32.GetModuleHandleW(None)
            window_class = _WndClass(lpfnWndProc=self._proc, hInstance=instance,
                                     lpszClassName=self._class_name)
            if not user32.RegisterClassW(ctypes.byref(window_class)):
                self._fail("RegisterClassW")
                return
            hwnd = user32.CreateWindowExW(0, self._class_name, "", 0, 0, 0, 0, 0, None, None, instance, None)
            if not hwnd:
                self._fail("CreateWindowExW")
                return
            data1, data2, data3, data4 = self._interface
            fil = _DevBroadcastInterface(
                dbcc_size=ctypes.sizeof(_DevBroadcastInterface), dbcc_devicetype=_DBT_DEVTYP_DEVICEINTERFACE,
                dbcc_classguid=_GUID(data1, data2, data3, (wintypes.BYTE * 8)(*data4)),
            )
            if not user32.RegisterDeviceNotificationW(hwnd, ctypes.byref(fil), _DEVICE_NOTIFY_WINDOW_HANDLE):
                self._fail("RegisterDeviceNotificationW")
                return
            self._ready.set()
            message = wintypes.MSG()
            while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                user32.TranslateMessage(ctypes.byref(message))
                user32.DispatchMessageW(ctypes.byref(message))

        def _fail(self, call: str) -> None:
            self._error = f"{call} failed (error {ctypes.get_last_error()})"
            self._ready.set()

    def _device_notifier(interface: str = "volume") -> ChangeSignal | None:
        try:
            return _DeviceChangeNotifier(interface)
        except OSError as exc:
            log.warning("no device-arrival notification for %s devices (%s); they are polled", interface, exc)
            return None


def device_change_signal(interface: str) -> ChangeSignal | None:
    """A signal set when devices of ``interface`` ("volume", "wpd") arrive or leave; None where there is none."""
    return _device_notifier(interface)
