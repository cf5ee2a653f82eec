"""ArrivalTracker: completion rules, bursts and de-duplication, with a fake clock and stat."""

from __future__ import annotations

import itertools
from pathlib import Path

from agent.egress.arrivals import ArrivalTracker, ReadyFile
from agent.egress.model import (
    ARRIVAL_CLOSED_AFTER_WRITE,
    ARRIVAL_MOVED_IN,
    ARRIVAL_QUIET,
    ARRIVAL_RESCAN,
    DESTINATION_CLASS_REMOVABLE_VOLUME,
    Destination,
)

DEST = Destination(Path("/media/u/STICK"), DESTINATION_CLASS_REMOVABLE_VOLUME, "usb")
OTHER = Destination(Path("/media/u/OTHER"), DESTINATION_CLASS_REMOVABLE_VOLUME, "usb")


class World:
    """A fake clock and file table."""

    def __init__(self) -> None:
        self.now = 100.0
        self.files: dict[str, tuple[int, int]] = {}
        ids = itertools.count(1)
        self.tracker = ArrivalTracker(
            settle_s=2.0,
            burst_gap_s=5.0,
            retention_s=60.0,
            clock=lambda: self.now,
            stat_fn=self.files.get,
            new_burst_id=lambda: f"burst-{next(ids)}",
        )


def must(item: ReadyFile | None) -> ReadyFile:
    assert item is not None
    return item


def p(name: str, dest: Destination = DEST) -> str:
    return f"{dest.path}/{name}"


def test_closed_after_write_is_ready_at_once_and_only_once():
    w = World()
    w.files[p("a.docx")] = (10, 1)
    w.tracker.created(DEST, p("a.docx"))
    ready = w.tracker.closed(DEST, p("a.docx"))
    assert ready is not None and ready.arrival == ARRIVAL_CLOSED_AFTER_WRITE
    assert w.tracker.closed(DEST, p("a.docx")) is None  # same size and mtime: not again
    w.files[p("a.docx")] = (12, 2)
    again = w.tracker.closed(DEST, p("a.docx"))
    assert again is not None and again.burst_id == ready.burst_id  # rewritten within the burst gap


def test_created_without_close_is_judged_on_quiet():
    w = World()
    w.files[p("b.pdf")] = (5, 1)
    w.tracker.created(DEST, p("b.pdf"))
    w.now += 1.0
    assert w.tracker.due() == []
    w.files[p("b.pdf")] = (9, 2)  # still growing
    w.now += 1.5
    assert w.tracker.due() == []
    w.now += 2.0
    (ready,) = w.tracker.due()
    assert ready.arrival == ARRIVAL_QUIET and ready.path == p("b.pdf")
    assert w.tracker.pending_count == 0


def test_vanished_pending_file_is_dropped():
    w = World()
    w.files[p("gone.txt")] = (1, 1)
    w.tracker.created(DEST, p("gone.txt"))
    del w.files[p("gone.txt")]
    w.now += 3
    assert w.tracker.due() == []


def test_moved_in_from_outside_and_rename_of_a_reported_file():
    w = World()
    w.files[p("c.xlsx")] = (7, 3)
    first = w.tracker.moved_in(DEST, p("c.xlsx"))
    assert first is not None and first.arrival == ARRIVAL_MOVED_IN
    w.files[p("renamed.xlsx")] = w.files.pop(p("c.xlsx"))
    assert w.tracker.moved_in(DEST, p("renamed.xlsx"), p("c.xlsx")) is None  # record moved, no report


def test_office_save_rename_of_pending_temp_is_moved_in():
    w = World()
    w.files[p("draft")] = (3, 1)
    w.tracker.created(DEST, p("draft"))
    w.files[p("report.docx")] = w.files.pop(p("draft"))
    ready = w.tracker.moved_in(DEST, p("report.docx"), p("draft"))
    assert ready is not None and ready.arrival == ARRIVAL_MOVED_IN
    assert w.tracker.pending_count == 0


def test_bursts_split_on_gaps_and_per_destination():
    w = World()
    ids = []
    for i in range(3):
        w.files[p(f"{i}")] = (1, i)
        ids.append(must(w.tracker.closed(DEST, p(f"{i}"))).burst_id)
        w.now += 4.0  # each gap < 5 s
    w.files[p("x", OTHER)] = (1, 1)
    other = must(w.tracker.closed(OTHER, p("x", OTHER))).burst_id
    w.now += 6.0
    w.files[p("late")] = (1, 9)
    late = must(w.tracker.closed(DEST, p("late"))).burst_id
    assert len(set(ids)) == 1
    assert other != ids[0]
    assert late not in (ids[0], other)


def test_rescan_does_not_repeat_reports_and_judges_old_files_at_next_tick():
    w = World()
    w.files[p("seen")] = (1, 1)
    w.tracker.closed(DEST, p("seen"))
    w.files[p("missed")] = (2, 2)
    w.files[p("writing")] = (3, 3)
    w.tracker.rescanned(DEST, p("seen"), recently_modified=False)
    w.tracker.rescanned(DEST, p("missed"), recently_modified=False)
    w.tracker.rescanned(DEST, p("writing"), recently_modified=True)
    due = w.tracker.due()
    assert [(r.path, r.arrival) for r in due] == [(p("missed"), ARRIVAL_RESCAN)]
    w.now += 2.5
    assert [r.path for r in w.tracker.due()] == [p("writing")]


def test_close_wins_over_a_pending_rescan():
    w = World()
    w.files[p("f")] = (1, 1)
    w.tracker.rescanned(DEST, p("f"), recently_modified=True)
    assert must(w.tracker.closed(DEST, p("f"))).arrival == ARRIVAL_CLOSED_AFTER_WRITE
    w.now += 5
    assert w.tracker.due() == []


def test_tree_moved_in_and_folder_rename_inside_destination():
    w = World()
    files = [p("dir/a"), p("dir/sub/b")]
    for i, f in enumerate(files):
        w.files[f] = (1, i)
    ready = w.tracker.tree_moved_in(DEST, p("dir"), None, files)
    assert sorted(r.path for r in ready) == sorted(files)
    assert {r.arrival for r in ready} == {ARRIVAL_MOVED_IN}
    renamed = [p("dir2/a"), p("dir2/sub/b")]
    for old, new in zip(files, renamed, strict=True):
        w.files[new] = w.files.pop(old)
    assert w.tracker.tree_moved_in(DEST, p("dir2"), p("dir"), renamed) == []


def test_deleted_file_can_be_reported_again_when_recreated_identically():
    w = World()
    w.files[p("a")] = (1, 1)
    assert w.tracker.closed(DEST, p("a")) is not None
    w.tracker.gone(p("a"))
    assert w.tracker.closed(DEST, p("a")) is not None


def test_reports_expire_after_retention_and_forget_destination():
    w = World()
    w.files[p("a")] = (1, 1)
    w.tracker.closed(DEST, p("a"))
    w.now += 61
    w.tracker.due()
    assert w.tracker.closed(DEST, p("a")) is not None
    w.files[p("b")] = (1, 1)
    w.tracker.created(DEST, p("b"))
    w.tracker.forget_destination(DEST)
    assert w.tracker.pending_count == 0
