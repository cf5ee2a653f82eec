"""EgressWatcher with real watchdog observers and real files in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.egress.inotify_observer import ReportingInotifyObserver
from agent.egress.model import (
    ARRIVAL_CLOSED_AFTER_WRITE,
    ARRIVAL_MOVED_IN,
    ARRIVAL_QUIET,
    DESTINATION_CLASS_PERSONAL_FOLDER,
    DESTINATION_CLASS_REMOVABLE_VOLUME,
    Destination,
)
from agent.egress.watcher import REASON_OVERFLOW, REASON_WATCH_LOST, EgressWatcher


class Recorder:
    """Collects watcher callbacks thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.ready: list[tuple[Destination, Path, str, str]] = []
        self.degraded: list[tuple[str, str, str, bool]] = []

    def on_file_ready(self, destination: Destination, path: Path, arrival: str, burst_id: str) -> None:
        with self.lock:
            self.ready.append((destination, path, arrival, burst_id))

    def on_degraded(self, component: str, reason: str, scope: str, recovered: bool) -> None:
        with self.lock:
            self.degraded.append((component, reason, scope, recovered))

    def paths(self) -> Counter[Path]:
        with self.lock:
            return Counter(path for _, path, _, _ in self.ready)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return True
            time.sleep(0.02)
        with self.lock:
            return predicate()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_watcher(recorder: Recorder):
    watchers: list[EgressWatcher] = []

    def make(**kwargs) -> EgressWatcher:
        options: dict[str, Any] = {"settle_s": 0.3, "tick_s": 0.05, "maintenance_s": 0.2, "lost_grace_s": 0.5}
        options.update(kwargs)
        watcher = EgressWatcher(recorder.on_file_ready, recorder.on_degraded, **options)
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        watcher.stop()


@pytest.fixture
def stick(tmp_path: Path) -> Destination:
    root = tmp_path / "media" / "STICK"
    root.mkdir(parents=True)
    return Destination(root, DESTINATION_CLASS_REMOVABLE_VOLUME, "usb")


def write(path: Path, data: bytes = b"case notes") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_file_written_and_closed_is_reported_once(make_watcher, recorder, stick):
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    write(stick.path / "report.docx")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    time.sleep(0.6)  # longer than the settle period: no second report
    (destination, path, arrival, burst_id) = recorder.ready[0]
    assert len(recorder.ready) == 1
    assert destination == stick
    assert path == stick.path / "report.docx"
    assert arrival == ARRIVAL_CLOSED_AFTER_WRITE
    assert len(burst_id) == 36


def test_file_moved_in_from_an_unwatched_folder(make_watcher, recorder, stick, tmp_path):
    outside = tmp_path / "home" / "plan.pdf"
    write(outside)
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    os.rename(outside, stick.path / "plan.pdf")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    assert recorder.ready[0][1:3] == (stick.path / "plan.pdf", ARRIVAL_MOVED_IN)


def test_folder_moved_in_reports_each_file_once(make_watcher, recorder, stick, tmp_path):
    outside = tmp_path / "home" / "case"
    for name in ("a.docx", "sub/b.xlsx", "sub/deeper/c.pdf"):
        write(outside / name)
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    os.rename(outside, stick.path / "case")
    assert recorder.wait_for(lambda: len(recorder.ready) == 3)
    time.sleep(0.6)
    assert recorder.paths() == Counter(
        {stick.path / "case" / n: 1 for n in ("a.docx", "sub/b.xlsx", "sub/deeper/c.pdf")}
    )
    assert {arrival for _, _, arrival, _ in recorder.ready} == {ARRIVAL_MOVED_IN}


def test_hard_link_gives_no_close_and_is_judged_on_quiet(make_watcher, recorder, stick, tmp_path):
    outside = tmp_path / "home" / "linked.odt"
    write(outside)
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    os.link(outside, stick.path / "linked.odt")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    assert recorder.ready[0][2] == ARRIVAL_QUIET


def test_lock_and_temp_files_are_ignored(make_watcher, recorder, stick):
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    for name in ("~$report.docx", "~WRL0001.tmp", ".~lock.minutes.odt#", ".DS_Store", "Thumbs.db", "._report.docx"):
        write(stick.path / name)
    write(stick.path / ".Spotlight-V100" / "Store-V2" / "index")
    write(stick.path / "report.docx")
    assert recorder.wait_for(lambda: len(recorder.ready) >= 1)
    time.sleep(0.6)
    assert list(recorder.paths()) == [stick.path / "report.docx"]


def test_rename_within_destination_is_not_a_second_arrival(make_watcher, recorder, stick):
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    write(stick.path / "a.docx")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    os.rename(stick.path / "a.docx", stick.path / "b.docx")
    time.sleep(0.6)
    assert len(recorder.ready) == 1


def test_500_files_copied_at_once_share_one_burst(make_watcher, recorder, stick, tmp_path):
    source = tmp_path / "home" / "bulk"
    source.mkdir(parents=True)
    for i in range(500):
        (source / f"f{i:03}.txt").write_bytes(b"x")
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    subprocess.run(["cp", "-r", str(source), str(stick.path / "bulk")], check=True)
    assert recorder.wait_for(lambda: len(recorder.ready) >= 500)
    time.sleep(0.6)
    assert len(recorder.ready) == 500
    assert len({burst for _, _, _, burst in recorder.ready}) == 1
    assert set(recorder.paths().values()) == {1}


def test_20000_file_burst_is_reported_exactly_once(make_watcher, recorder, stick, tmp_path):
    source = tmp_path / "home" / "burst"
    source.mkdir(parents=True)
    for i in range(20_000):
        (source / f"{i:05}").write_bytes(b"x")
    watcher = make_watcher(settle_s=1.0)
    watcher.add(stick)
    watcher.start()
    started = time.monotonic()
    subprocess.run(["cp", "-r", str(source), str(stick.path / "burst")], check=True)
    assert recorder.wait_for(lambda: len(recorder.ready) >= 20_000, timeout=40)
    elapsed = time.monotonic() - started
    time.sleep(1.5)
    counts = recorder.paths()
    assert len(counts) == 20_000
    assert max(counts.values()) == 1
    print(f"20k burst: all reported in {elapsed:.2f}s; arrivals {Counter(a for _, _, a, _ in recorder.ready)}")


def test_destination_removed_then_added_back_gets_a_fresh_watch(make_watcher, recorder, stick):
    watcher = make_watcher()
    watcher.add(stick)
    watcher.start()
    write(stick.path / "one.txt")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    watcher.remove(stick)
    assert stick not in watcher.destinations()
    write(stick.path / "while-away.txt")
    time.sleep(0.5)
    assert len(recorder.ready) == 1
    watcher.add(stick)
    assert watcher.destinations()[stick] == "watching"
    write(stick.path / "two.txt")
    assert recorder.wait_for(lambda: len(recorder.ready) == 2)
    assert recorder.ready[1][1] == stick.path / "two.txt"


def test_root_deleted_and_recreated_is_rewatched_with_degraded_report(make_watcher, recorder, tmp_path):
    folder = tmp_path / "Personal"
    folder.mkdir()
    destination = Destination(folder, DESTINATION_CLASS_PERSONAL_FOLDER, "configured")
    watcher = make_watcher()
    watcher.add(destination)
    watcher.start()
    shutil.rmtree(folder)
    assert recorder.wait_for(
        lambda: ("egress-watcher", REASON_WATCH_LOST, DESTINATION_CLASS_PERSONAL_FOLDER, False) in recorder.degraded
    )
    folder.mkdir()
    write(folder / "made-while-rewatching.txt")
    assert recorder.wait_for(
        lambda: ("egress-watcher", REASON_WATCH_LOST, DESTINATION_CLASS_PERSONAL_FOLDER, True) in recorder.degraded
    )
    assert recorder.wait_for(lambda: folder / "made-while-rewatching.txt" in recorder.paths())
    assert watcher.destinations()[destination] == "watching"
    write(folder / "after.txt")
    assert recorder.wait_for(lambda: folder / "after.txt" in recorder.paths())


def test_destination_added_before_its_folder_exists_is_watched_when_it_appears(make_watcher, recorder, tmp_path):
    folder = tmp_path / "Dropbox"
    destination = Destination(folder, DESTINATION_CLASS_PERSONAL_FOLDER, "configured")
    watcher = make_watcher()
    watcher.add(destination)
    watcher.start()
    assert watcher.destinations()[destination] == "absent"
    folder.mkdir()
    assert recorder.wait_for(lambda: watcher.destinations()[destination] == "watching")
    write(folder / "x.txt")
    assert recorder.wait_for(lambda: len(recorder.ready) == 1)
    assert recorder.degraded == []


def test_excluded_folder_inside_a_destination_is_not_reported(make_watcher, recorder, tmp_path):
    root = tmp_path / "iCloud"
    approved = root / "Approved"
    approved.mkdir(parents=True)
    destination = Destination(root, DESTINATION_CLASS_PERSONAL_FOLDER, "configured", excluded=(approved,))
    watcher = make_watcher()
    watcher.add(destination)
    watcher.start()
    write(approved / "fine.docx")
    write(root / "not-fine.docx")
    assert recorder.wait_for(lambda: len(recorder.ready) >= 1)
    time.sleep(0.6)
    assert list(recorder.paths()) == [root / "not-fine.docx"]


@pytest.mark.root
@pytest.mark.parametrize("native_overflow", [True, False], ids=["watchdog-hook", "watchdog-7.0-fallback"])
def test_inotify_overflow_is_reported_and_rescanned_without_loss(
    make_watcher, recorder, stick, tmp_path, native_overflow
):
    if os.geteuid() != 0:
        pytest.fail("needs root to lower fs.inotify.max_queued_events")
    knob = Path("/proc/sys/fs/inotify/max_queued_events")
    original = knob.read_text()
    watcher = make_watcher(
        settle_s=0.5,
        observer_factory=lambda listener: ReportingInotifyObserver(listener, native_overflow=native_overflow),
    )
    watcher.add(stick)
    try:
        knob.write_text("16\n")  # read once, when the observer's inotify instance is created
        watcher.start()
    finally:
        knob.write_text(original)
    source = tmp_path / "home" / "flood"
    source.mkdir(parents=True)
    for i in range(3000):
        (source / f"{i:04}").write_bytes(b"x")
    subprocess.run(["cp", "-r", str(source), str(stick.path / "flood")], check=True)  # C-speed burst
    overflow_seen = recorder.wait_for(
        lambda: ("egress-watcher", REASON_OVERFLOW, DESTINATION_CLASS_REMOVABLE_VOLUME, False) in recorder.degraded
    )
    assert overflow_seen, "the small queue should have overflowed"
    assert recorder.wait_for(
        lambda: ("egress-watcher", REASON_OVERFLOW, DESTINATION_CLASS_REMOVABLE_VOLUME, True) in recorder.degraded
    )
    assert recorder.wait_for(lambda: len(recorder.paths()) >= 3000, timeout=20)
    time.sleep(1.0)
    counts = recorder.paths()
    assert len(counts) == 3000
    assert max(counts.values()) == 1
    # Coverage is whole again: a file written now is reported as usual.
    write(stick.path / "flood" / "after.txt")
    assert recorder.wait_for(lambda: stick.path / "flood" / "after.txt" in recorder.paths())
    print(f"overflow: arrivals {Counter(a for _, _, a, _ in recorder.ready)}; degraded {recorder.degraded}")
