"""Value objects shared by destination discovery and the watchers.

String constants mirror the enum names of ``protos/caseguard/v1/events.proto`` so that event
bodies can carry them unchanged (see :mod:`agent.events`). This module does no I/O.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# DestinationClass enum names.
DESTINATION_CLASS_REMOVABLE_VOLUME = "DESTINATION_CLASS_REMOVABLE_VOLUME"
DESTINATION_CLASS_PERSONAL_CLOUD = "DESTINATION_CLASS_PERSONAL_CLOUD"
DESTINATION_CLASS_PERSONAL_FOLDER = "DESTINATION_CLASS_PERSONAL_FOLDER"
DESTINATION_CLASS_PORTABLE_DEVICE = "DESTINATION_CLASS_PORTABLE_DEVICE"

# Arrival enum names.
ARRIVAL_CLOSED_AFTER_WRITE = "ARRIVAL_CLOSED_AFTER_WRITE"
ARRIVAL_MOVED_IN = "ARRIVAL_MOVED_IN"
ARRIVAL_QUIET = "ARRIVAL_QUIET"
ARRIVAL_RESCAN = "ARRIVAL_RESCAN"

# Bus names used in VolumeIdentity.bus.
BUS_USB = "usb"
BUS_SD = "sd"
BUS_MMC = "mmc"
BUS_LOOP = "loop"
BUS_NVME = "nvme"
BUS_SATA = "sata"
BUS_THUNDERBOLT = "thunderbolt"
BUS_IMAGE = "image"
BUS_UNKNOWN = "unknown"


# Linux: where udisks mounts removable media (<root>/<user>/<label>). Here, not in volumes_linux,
# so that the settings (read by the session component too) need not import the volume watcher.
DEFAULT_MEDIA_ROOTS: tuple[str, ...] = ("/media", "/run/media")


@dataclass(frozen=True)
class VolumeIdentity:
    """A volume as the wire contract describes it (``caseguard.v1.VolumeIdentity``).

    ``serial_hmac`` is HMAC-SHA256 of the hardware serial under the organisation's key, so the
    collector can recognise the same stick across laptops without learning its serial.
    ``mount_point`` may only leave the laptop when the organisation sets ``reveal_names``.
    """

    label: str
    filesystem: str
    size_bytes: int
    bus: str
    serial_hmac: str
    removable_flag: bool
    mount_point: str

    def as_event_body(self, *, reveal_names: bool = False) -> dict[str, Any]:
        """The mapping an event body expects for a ``VolumeIdentity`` field."""
        body = asdict(self)
        if not reveal_names:
            body["mount_point"] = ""
        return body


@dataclass(frozen=True)
class Volume:
    """A mounted removable volume as a volume source sees it.

    ``mount_token`` names this mount (the Linux mount ID, the macOS device node plus the mount's
    st_dev, the Windows volume GUID path). Linux may reuse a mount ID once the old mount is gone,
    so an unmount and remount that both fall between two snapshots can look unchanged; the
    watcher still notices, because the kernel drops its watch on the unmounted root.
    ``device`` names the block device for diagnostics ("8:17", "disk4s1", "E:").
    """

    identity: VolumeIdentity
    mount_token: str
    device: str

    @property
    def mount_point(self) -> Path:
        """Where the volume is mounted."""
        return Path(self.identity.mount_point)


@dataclass(frozen=True)
class Destination:
    """A place a case file must not go: a removable volume, a personal cloud root or a folder.

    ``kind`` is the ``destination_kind`` of the event ("usb", "onedrive_personal", "icloud", ...).
    ``excluded`` lists approved folders inside ``path`` whose contents are not egress.
    """

    path: Path
    destination_class: str
    kind: str
    volume: VolumeIdentity | None = None
    excluded: tuple[Path, ...] = ()

    def contains(self, path: Path | str) -> bool:
        """True when ``path`` (already absolute) lies under this destination and not under an exclusion."""
        candidate = os.fspath(path)
        if not is_within(candidate, os.fspath(self.path)):
            return False
        return not any(is_within(candidate, os.fspath(ex)) for ex in self.excluded)


def destination_for_volume(volume: Volume) -> Destination:
    """The destination that watching ``volume`` means: its mount point, with its identity."""
    kind = volume.identity.bus if volume.identity.bus not in ("", BUS_UNKNOWN) else "removable"
    return Destination(
        path=volume.mount_point,
        destination_class=DESTINATION_CLASS_REMOVABLE_VOLUME,
        kind=kind,
        volume=volume.identity,
    )


def destination_for_path(destinations: Iterable[Destination], path: Path | str) -> Destination | None:
    """The innermost destination containing ``path`` (resolved through symlinks), or None."""
    resolved = os.path.realpath(path)
    best: Destination | None = None
    for destination in destinations:
        if destination.contains(resolved) and (
            best is None or len(os.fspath(destination.path)) > len(os.fspath(best.path))
        ):
            best = destination
    return best


def is_within(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or lies beneath it (plain string comparison, no I/O)."""
    root = root.rstrip(os.sep) or os.sep
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


def normalise_serial(serial: str) -> str:
    """A hardware serial in the one form every OS backend hashes: no blanks or NULs, upper case.

    Windows, macOS and Linux report the same USB iSerial with different padding and case, so
    normalising first lets the collector match a stick seen on laptops running different systems.
    """
    return "".join(ch for ch in serial if not ch.isspace() and ch != "\x00").upper()


def serial_hmac(key: bytes, serial: str) -> str:
    """HMAC-SHA256 under the organisation key of the normalised serial, hex; "" for no serial."""
    # Imported here: hashlib loads OpenSSL's libcrypto (3.4 MB), and the session component, which
    # reads this module's defaults through the settings, never hashes anything.
    import hashlib
    import hmac

    normalised = normalise_serial(serial)
    if not normalised:
        return ""
    return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
