"""End to end on a real loop-mounted ext4 image at <root>/<user>/<LABEL> (the udisks convention).

The root is a directory of the test's own under /media, given to the volume source as its only
media root: a loop image someone else mounted under /media is not this test's volume.

Needs root (mount); fails loudly without it, as CI runs these for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from agent.egress.model import ARRIVAL_CLOSED_AFTER_WRITE, Destination, Volume, destination_for_volume
from agent.egress.scan import scan_once
from agent.egress.volumes import VolumeMonitor
from agent.egress.volumes_linux import LinuxVolumeSource
from agent.egress.watcher import EgressWatcher

pytestmark = pytest.mark.root

LABEL = "CGLOOPTEST"


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def image(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.fail("needs root for loop mounts")
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing")
    img = tmp_path / "stick.img"
    with open(img, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    run("mkfs.ext4", "-q", "-L", LABEL, str(img))
    root = Path("/media") / f"caseguard-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    mount_point = root / "cgtest" / LABEL
    mount_point.mkdir(parents=True, exist_ok=True)
    yield img, mount_point
    if os.path.ismount(mount_point):
        subprocess.run(["umount", str(mount_point)], check=False)
    shutil.rmtree(root, ignore_errors=True)


def _source(mount_point: Path) -> LinuxVolumeSource:
    """A volume source whose only media root is the test's own (two levels above the mount point)."""
    return LinuxVolumeSource(b"org-key", media_roots=[str(mount_point.parent.parent)])


def wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_loop_volume_is_found_watched_unmounted_and_rewatched_on_remount(image):
    img, mount_point = image
    lock = threading.Lock()
    added: list[tuple[float, Volume]] = []
    removed: list[Volume] = []
    ready: list[tuple[Path, str]] = []
    scanned: list[list[Path]] = []

    watcher = EgressWatcher(
        lambda d, p, a, b: ready.append((p, a)), lambda *a: None, settle_s=0.3, tick_s=0.05, maintenance_s=0.2
    )

    def on_added(volume: Volume) -> None:
        if volume.identity.mount_point != str(mount_point):
            return
        destination = destination_for_volume(volume)
        watcher.add(destination)
        scanned.append(list(scan_once(destination)))
        with lock:
            added.append((time.monotonic(), volume))

    def on_removed(volume: Volume) -> None:
        if volume.identity.mount_point != str(mount_point):
            return
        watcher.remove(destination_for_volume(volume))
        with lock:
            removed.append(volume)

    source = _source(mount_point)
    # A long poll interval: prompt detection below can only come from mountinfo's POLLPRI.
    monitor = VolumeMonitor(source, on_added, on_removed, poll_interval_s=30.0)
    watcher.start()
    monitor.start()
    try:
        time.sleep(0.3)
        mounted_at = time.monotonic()
        run("mount", "-o", "loop", str(img), str(mount_point))
        assert wait(lambda: len(added) == 1), "mount not seen"
        assert added[0][0] - mounted_at < 2.0
        identity = added[0][1].identity
        assert (identity.bus, identity.filesystem, identity.label) == ("loop", "ext4", LABEL)
        assert identity.size_bytes == 16 * 1024 * 1024
        assert identity.serial_hmac == ""
        assert scanned[0] == []  # lost+found is empty

        with open(mount_point / "case.docx", "wb") as f:
            f.write(b"first")
        assert wait(lambda: (mount_point / "case.docx", ARRIVAL_CLOSED_AFTER_WRITE) in ready)

        run("umount", str(mount_point))
        assert wait(lambda: len(removed) == 1), "unmount not seen"
        assert watcher.destinations() == {}

        run("mount", "-o", "loop", str(img), str(mount_point))
        assert wait(lambda: len(added) == 2), "remount not seen"
        # Linux may reuse the mount ID of the unmounted volume; the monitor saw the unmount in between.
        assert scanned[1] == [mount_point / "case.docx"]  # the one-off scan of a newly mounted volume
        destination: Destination = destination_for_volume(added[1][1])
        assert watcher.destinations()[destination] == "watching"
        with open(mount_point / "second.docx", "wb") as f:
            f.write(b"second")
        assert wait(lambda: (mount_point / "second.docx", ARRIVAL_CLOSED_AFTER_WRITE) in ready)
    finally:
        monitor.stop()
        watcher.stop()
        source.close()


def test_quick_remount_unseen_by_the_monitor_is_still_rewatched(image):
    img, mount_point = image
    ready: list[tuple[Path, str]] = []
    degraded: list[tuple[str, str, str, bool]] = []
    watcher = EgressWatcher(
        lambda d, p, a, b: ready.append((p, a)),
        lambda *a: degraded.append(a),
        settle_s=0.3,
        tick_s=0.05,
        maintenance_s=0.2,
        lost_grace_s=0.5,
    )
    run("mount", "-o", "loop", str(img), str(mount_point))
    source = _source(mount_point)
    try:
        (volume,) = [v for v in source.snapshot() if v.identity.mount_point == str(mount_point)]
        destination = destination_for_volume(volume)
        watcher.add(destination)
        watcher.start()
        run("umount", str(mount_point))
        run("mount", "-o", "loop", str(img), str(mount_point))
        with open(mount_point / "after-remount.docx", "wb") as f:
            f.write(b"x")
        # Written before the watch was re-added: found by the rescan that follows the re-add.
        assert wait(lambda: any(p == mount_point / "after-remount.docx" for p, _ in ready))
        assert wait(lambda: watcher.destinations()[destination] == "watching")
        with open(mount_point / "later.docx", "wb") as f:
            f.write(b"y")
        assert wait(lambda: (mount_point / "later.docx", ARRIVAL_CLOSED_AFTER_WRITE) in ready)
    finally:
        watcher.stop()
        source.close()
