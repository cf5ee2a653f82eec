"""Build fake /proc, /sys and /dev trees laid out like a real laptop's, for the Linux volume source."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _link(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def escape_mount_path(path: str) -> str:
    """Escape a path the way the kernel writes it into mountinfo."""
    out = []
    for ch in path:
        if ch in " \t\n\\":
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class FakeSystem:
    """A fake machine rooted at ``root``: ``proc``, ``sys`` and ``dev`` beneath it."""

    root: Path
    mount_lines: list[str] = field(default_factory=list)
    next_mount_id: int = 30

    @property
    def proc(self) -> Path:
        return self.root / "proc"

    @property
    def sys(self) -> Path:
        return self.root / "sys"

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    def add_disk(
        self,
        name: str,
        parent: str,
        major: int,
        minor: int,
        *,
        removable: int = 0,
        size_sectors: int = 1_000_000,
        partitions: dict[str, tuple[int, int]] | None = None,
        files: dict[str, str] | None = None,
    ) -> Path:
        """A whole disk at ``/sys/devices/<parent>/<name>`` with optional partitions.

        ``partitions`` maps name -> (minor, size in sectors); ``files`` are extra files relative to
        the disk directory (e.g. ``device/serial``).
        """
        disk_dir = self.sys / "devices" / parent / name
        _write(disk_dir / "removable", str(removable))
        _write(disk_dir / "size", str(size_sectors))
        _write(disk_dir / "dev", f"{major}:{minor}")
        for rel, text in (files or {}).items():
            _write(disk_dir / rel, text)
        rel_from_block = os.path.relpath(disk_dir, self.sys / "block")
        _link(self.sys / "block" / name, rel_from_block)
        _link(self.sys / "class" / "block" / name, os.path.relpath(disk_dir, self.sys / "class" / "block"))
        _link(self.sys / "dev" / "block" / f"{major}:{minor}", os.path.relpath(disk_dir, self.sys / "dev" / "block"))
        for part, (part_minor, part_size) in (partitions or {}).items():
            part_dir = disk_dir / part
            _write(part_dir / "partition", "1")
            _write(part_dir / "size", str(part_size))
            _link(
                self.sys / "dev" / "block" / f"{major}:{part_minor}",
                os.path.relpath(part_dir, self.sys / "dev" / "block"),
            )
            _link(self.sys / "class" / "block" / part, os.path.relpath(part_dir, self.sys / "class" / "block"))
        return disk_dir

    def add_usb_device(self, usb_path: str, *, serial: str | None) -> None:
        """The USB device node (``idVendor``, ``serial``) a mass-storage disk hangs from."""
        base = self.sys / "devices" / usb_path
        _write(base / "idVendor", "0951")
        _write(base / "idProduct", "1666")
        if serial is not None:
            _write(base / "serial", serial)

    def add_dm(self, name: str, major: int, minor: int, slave_dir: Path, size_sectors: int) -> None:
        """A device-mapper device (e.g. LUKS) on top of ``slave_dir``."""
        dm_dir = self.sys / "devices" / "virtual" / "block" / name
        _write(dm_dir / "removable", "0")
        _write(dm_dir / "size", str(size_sectors))
        _link(dm_dir / "slaves" / slave_dir.name, os.path.relpath(slave_dir, dm_dir / "slaves"))
        _link(self.sys / "dev" / "block" / f"{major}:{minor}", os.path.relpath(dm_dir, self.sys / "dev" / "block"))

    def by_label(self, escaped_label: str, device: str) -> None:
        _link(self.dev / "disk" / "by-label" / escaped_label, f"../../{device}")

    def by_id(self, name: str, device: str) -> None:
        _link(self.dev / "disk" / "by-id" / name, f"../../{device}")

    def mount(
        self,
        major: int,
        minor: int,
        mount_point: str,
        fstype: str,
        source: str,
        *,
        root: str = "/",
        optional: str = "shared:1",
    ) -> int:
        """Add a mountinfo line; returns its mount ID."""
        mount_id = self.next_mount_id
        self.next_mount_id += 1
        self.mount_lines.append(
            f"{mount_id} 1 {major}:{minor} {escape_mount_path(root)} {escape_mount_path(mount_point)} "
            f"rw,nosuid,nodev,relatime {optional} - {fstype} {source} rw"
        )
        return mount_id

    def unmount(self, mount_point: str) -> None:
        escaped = escape_mount_path(mount_point)
        self.mount_lines = [line for line in self.mount_lines if line.split(" ")[4] != escaped]

    def write_mountinfo(self, extra: str = "") -> None:
        _write(self.proc / "self" / "mountinfo", "\n".join(self.mount_lines) + extra)


USB_STICK_USB = "pci0000:00/0000:00:14.0/usb1/1-2"
USB_STICK_PARENT = f"{USB_STICK_USB}/1-2:1.0/host6/target6:0:0/6:0:0:0/block"
USB_DISK_USB = "pci0000:00/0000:00:14.0/usb2/2-1"
USB_DISK_PARENT = f"{USB_DISK_USB}/2-1:1.0/host7/target7:0:0/7:0:0:0/block"
LUKS_STICK_USB = "pci0000:00/0000:00:14.0/usb1/1-4"
LUKS_STICK_PARENT = f"{LUKS_STICK_USB}/1-4:1.0/host8/target8:0:0/8:0:0:0/block"
NVME_PARENT = "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
SD_PARENT = "pci0000:00/0000:00:14.5/mmc_host/mmc0/mmc0:aaaa/block"
EMMC_PARENT = "pci0000:00/0000:00:1a.0/mmc_host/mmc1/mmc1:0001/block"


def build_laptop(root: Path) -> FakeSystem:
    """A laptop with an internal NVMe, eMMC, a USB stick, a USB disk, an SD card, loops, a LUKS stick."""
    fake = FakeSystem(root)
    # Internal NVMe: /, /home and a data partition. Not removable.
    fake.add_disk(
        "nvme0n1",
        NVME_PARENT,
        259,
        0,
        partitions={"nvme0n1p1": (1, 1000), "nvme0n1p2": (2, 500_000), "nvme0n1p3": (3, 400_000)},
        files={"device/serial": "S4EWNX0N123456"},
    )
    fake.mount(259, 2, "/", "ext4", "/dev/nvme0n1p2")
    fake.mount(259, 3, "/home", "ext4", "/dev/nvme0n1p3")
    fake.mount(259, 1, "/boot/efi", "vfat", "/dev/nvme0n1p1")
    # USB stick: removable=1, serial on the USB device node, label via by-label.
    fake.add_usb_device(USB_STICK_USB, serial="4C530001230405113290")
    fake.add_disk(
        "sdb", USB_STICK_PARENT, 8, 16, removable=1, size_sectors=60_000_000, partitions={"sdb1": (17, 59_000_000)}
    )
    fake.by_label("KINGSTON", "sdb1")
    fake.mount(8, 17, "/media/alice/KINGSTON", "vfat", "/dev/sdb1")
    # USB disk: removable=0, but /usb in its /sys path; a label with a space.
    fake.add_usb_device(USB_DISK_USB, serial="575836314142")
    fake.add_disk(
        "sdc", USB_DISK_PARENT, 8, 32, removable=0, size_sectors=2_000_000_000, partitions={"sdc1": (33, 1_953_525_168)}
    )
    fake.by_label("My\\x20Passport", "sdc1")
    fake.mount(8, 33, "/media/alice/My Passport", "exfat", "/dev/sdc1")
    # SD card in the laptop's reader, mounted the Fedora way.
    fake.add_disk(
        "mmcblk0",
        SD_PARENT,
        179,
        0,
        size_sectors=62_333_952,
        partitions={"mmcblk0p1": (1, 62_300_000)},
        files={"device/type": "SD", "device/serial": "0x1234abcd"},
    )
    fake.mount(179, 1, "/run/media/alice/SDCARD", "exfat", "/dev/mmcblk0p1")
    # eMMC soldered on the board: type MMC, not removable.
    fake.add_disk(
        "mmcblk1", EMMC_PARENT, 179, 256, partitions={"mmcblk1p1": (257, 100_000)}, files={"device/type": "MMC"}
    )
    fake.mount(179, 257, "/srv/emmc", "ext4", "/dev/mmcblk1p1")
    # Loop devices: one where udisks mounts removable media, one snap, one manual mount.
    for minor in (0, 1, 2):
        fake.add_disk(f"loop{minor}", "virtual/block", 7, minor, size_sectors=16384)
    fake.mount(7, 0, "/media/alice/CGTEST", "ext4", "/dev/loop0")
    fake.mount(7, 1, "/snap/core22/1234", "squashfs", "/dev/loop1")
    fake.mount(7, 2, "/mnt/image", "ext4", "/dev/loop2")
    # A LUKS-encrypted USB stick: dm-0 on sdd1; no by-label, serial via by-id only.
    fake.add_usb_device(LUKS_STICK_USB, serial=None)
    luks_disk = fake.add_disk(
        "sdd", LUKS_STICK_PARENT, 8, 48, removable=1, size_sectors=30_000_000, partitions={"sdd1": (49, 29_000_000)}
    )
    fake.add_dm("dm-0", 253, 0, luks_disk / "sdd1", size_sectors=28_990_000)
    fake.by_id("usb-SanDisk_Cruzer_Blade_AA010203040506070809-0:0", "sdd")
    fake.by_id("usb-SanDisk_Cruzer_Blade_AA010203040506070809-0:0-part1", "sdd1")
    fake.mount(253, 0, "/media/alice/a1b2c3d4-luks", "ext4", "/dev/mapper/luks-a1b2")
    # Pseudo file systems, and a bind mount of a folder of the USB stick.
    fake.mount(0, 21, "/proc", "proc", "proc")
    fake.mount(0, 25, "/run/user/1000", "tmpfs", "tmpfs")
    fake.mount(8, 17, "/home/alice/stickdocs", "vfat", "/dev/sdb1", root="/docs")
    fake.write_mountinfo()
    return fake
