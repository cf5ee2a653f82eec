"""Linux removable-volume discovery against fake /proc, /sys and /dev trees."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from pathlib import Path

import pytest

from agent.egress.model import Volume, serial_hmac
from agent.egress.mountinfo import parse_mountinfo, unescape
from agent.egress.volumes import VolumeMonitor, diff_snapshots
from agent.egress.volumes_linux import LinuxVolumeSource
from tests.unit.egress.fake_system import build_laptop

KEY = b"org-key-for-tests"


def _hmac(serial: str) -> str:
    return hmac.new(KEY, serial.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def laptop(tmp_path: Path):
    return build_laptop(tmp_path)


@pytest.fixture
def source(laptop) -> LinuxVolumeSource:
    return LinuxVolumeSource(KEY, proc_root=laptop.proc, sys_root=laptop.sys, dev_root=laptop.dev)


def by_mount(volumes: frozenset[Volume]) -> dict[str, Volume]:
    return {v.identity.mount_point: v for v in volumes}


# -- mountinfo -----------------------------------------------------------------------------------


def test_mountinfo_parses_escapes_optional_fields_and_skips_malformed_lines():
    data = (
        b"36 35 98:0 /mnt1 /mnt/My\\040Stick\\011tab\\134back rw,noatime master:1 shared:2"
        b" - ext3 /dev/root rw,errors=continue\n"
        b"37 35 0:22 / /proc rw - proc proc rw\n"
        b"this line is not mountinfo\n"
        b"38 35 8:17 / /media/u/X rw - vfat /dev/sdb1\n"
    )
    entries = parse_mountinfo(data)
    assert len(entries) == 3
    first = entries[0]
    assert (first.mount_id, first.parent_id, first.major, first.minor) == (36, 35, 98, 0)
    assert first.root == "/mnt1"
    assert first.mount_point == "/mnt/My Stick\ttab\\back"
    assert first.options == ("rw", "noatime")
    assert (first.fstype, first.source) == ("ext3", "/dev/root")
    assert first.super_options == ("rw", "errors=continue")
    assert first.device_number == "98:0"
    assert entries[2].super_options == ()  # missing super options tolerated


def test_unescape_handles_newline_and_non_ascii():
    assert unescape(b"/media/u/a\\012b") == "/media/u/a\nb"
    assert unescape("/media/u/Clé".encode()) == "/media/u/Clé"


# -- removable decisions and identity ---------------------------------------------------------


def test_snapshot_finds_exactly_the_removable_volumes(source):
    volumes = by_mount(source.snapshot())
    assert set(volumes) == {
        "/media/alice/KINGSTON",
        "/media/alice/My Passport",
        "/run/media/alice/SDCARD",
        "/media/alice/CGTEST",
        "/media/alice/a1b2c3d4-luks",
    }


def test_usb_stick_with_removable_flag(source):
    stick = by_mount(source.snapshot())["/media/alice/KINGSTON"].identity
    assert stick.bus == "usb"
    assert stick.removable_flag is True
    assert stick.label == "KINGSTON"
    assert stick.filesystem == "vfat"
    assert stick.size_bytes == 59_000_000 * 512
    assert stick.serial_hmac == _hmac("4C530001230405113290")


def test_usb_disk_without_removable_flag_is_removable_by_its_usb_path(source):
    disk = by_mount(source.snapshot())["/media/alice/My Passport"].identity
    assert disk.bus == "usb"
    assert disk.removable_flag is False
    assert disk.label == "My Passport"  # from /dev/disk/by-label with udev's \x20 escape
    assert disk.filesystem == "exfat"
    assert disk.serial_hmac == _hmac("575836314142")


def test_sd_card_and_emmc(source):
    volumes = by_mount(source.snapshot())
    sd = volumes["/run/media/alice/SDCARD"].identity
    assert sd.bus == "sd"
    assert sd.label == "SDCARD"  # from the udisks mount path
    assert sd.serial_hmac == _hmac("0X1234ABCD")
    assert "/srv/emmc" not in volumes


def test_loop_device_counts_only_under_udisks_media_roots(source):
    volumes = by_mount(source.snapshot())
    loop = volumes["/media/alice/CGTEST"].identity
    assert loop.bus == "loop"
    assert loop.label == "CGTEST"
    assert loop.serial_hmac == ""
    assert loop.size_bytes == 16384 * 512
    assert "/snap/core22/1234" not in volumes
    assert "/mnt/image" not in volumes


def test_luks_stick_is_followed_to_its_usb_disk(source):
    luks = by_mount(source.snapshot())["/media/alice/a1b2c3d4-luks"]
    assert luks.identity.bus == "usb"
    assert luks.identity.size_bytes == 28_990_000 * 512  # the mapped device, not the partition
    assert luks.identity.serial_hmac == _hmac("usb-SanDisk_Cruzer_Blade_AA010203040506070809-0:0".upper())
    assert luks.device == "253:0"


def test_internal_nvme_bind_mounts_and_pseudo_filesystems_are_ignored(source):
    mounts = set(by_mount(source.snapshot()))
    assert not mounts & {"/", "/home", "/boot/efi", "/proc", "/run/user/1000", "/home/alice/stickdocs"}


def test_usb_path_check_ignores_the_location_of_the_sys_root(tmp_path: Path):
    fake = build_laptop(tmp_path / "usb-fixtures" / "x")
    source = LinuxVolumeSource(KEY, proc_root=fake.proc, sys_root=fake.sys, dev_root=fake.dev)
    assert "/srv/emmc" not in by_mount(source.snapshot())


def test_mount_token_is_the_mount_id(source, laptop):
    stick = by_mount(source.snapshot())["/media/alice/KINGSTON"]
    line = next(line for line in laptop.mount_lines if "/media/alice/KINGSTON" in line)
    assert stick.mount_token == line.split(" ")[0]


# -- diffing and the monitor ------------------------------------------------------------------


def test_diff_snapshots_reports_remount_as_removed_and_added(source, laptop):
    before = source.snapshot()
    laptop.unmount("/media/alice/KINGSTON")
    laptop.mount(8, 17, "/media/alice/KINGSTON", "vfat", "/dev/sdb1")
    laptop.write_mountinfo()
    after = source.snapshot()
    changes = diff_snapshots(before, after)
    assert [v.identity.mount_point for v in changes.added] == ["/media/alice/KINGSTON"]
    assert [v.identity.mount_point for v in changes.removed] == ["/media/alice/KINGSTON"]
    assert changes.added[0].identity == changes.removed[0].identity
    assert not diff_snapshots(after, after)


def test_monitor_reports_initial_volumes_then_changes(source, laptop):
    added: list[Volume] = []
    removed: list[Volume] = []
    monitor = VolumeMonitor(source, added.append, removed.append)
    monitor.poll_once()
    assert len(added) == 5 and not removed
    laptop.unmount("/media/alice/My Passport")
    laptop.write_mountinfo()
    changes = monitor.poll_once()
    assert [v.identity.mount_point for v in removed] == ["/media/alice/My Passport"]
    assert changes.removed and not changes.added
    assert len(monitor.current) == 4


def test_monitor_keeps_its_view_when_a_snapshot_fails(source, laptop):
    added: list[Volume] = []
    removed: list[Volume] = []
    monitor = VolumeMonitor(source, added.append, removed.append)
    monitor.poll_once()
    (laptop.proc / "self" / "mountinfo").unlink()
    assert not monitor.poll_once()
    assert not removed and len(monitor.current) == 5


def test_monitor_survives_a_failing_callback(source):
    def boom(volume: Volume) -> None:
        raise RuntimeError("callback bug")

    removed: list[Volume] = []
    monitor = VolumeMonitor(source, boom, removed.append)
    assert len(monitor.poll_once().added) == 5


def test_monitor_thread_sees_a_change_and_stops_promptly(source, laptop):
    added: list[Volume] = []
    removed: list[Volume] = []
    got_removal = threading.Event()

    def on_removed(volume: Volume) -> None:
        removed.append(volume)
        got_removal.set()

    stop = threading.Event()
    monitor = VolumeMonitor(source, added.append, on_removed, poll_interval_s=0.1, stop_event=stop)
    monitor.start()
    try:
        deadline = time.monotonic() + 5
        while len(added) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        laptop.unmount("/media/alice/CGTEST")
        laptop.write_mountinfo()
        assert got_removal.wait(5)
    finally:
        started = time.monotonic()
        stop.set()
        monitor.stop(timeout=5)
        assert time.monotonic() - started < 1.0
    assert [v.identity.mount_point for v in removed] == ["/media/alice/CGTEST"]
    source.close()


def test_real_system_snapshot_does_not_fail():
    source = LinuxVolumeSource(KEY)
    try:
        volumes = source.snapshot()
        assert all(v.identity.mount_point not in ("/", "/home") for v in volumes)
    finally:
        source.close()


def test_serial_hmac_matches_plain_hmac_and_normalises():
    assert serial_hmac(KEY, "abc123") == _hmac("ABC123")
    assert serial_hmac(KEY, " ABC 123\x00\n") == _hmac("ABC123")
    assert serial_hmac(KEY, "") == ""
    assert serial_hmac(b"other-key", "abc123") != serial_hmac(KEY, "abc123")
