"""Sequence-gap bookkeeping against a simple model: open gaps are exactly the missing numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.ingest.sequence import enter_epoch, reconcile


def test_jump_opens_a_gap_and_late_arrival_fills_it() -> None:
    r = reconcile(0, [], [1, 2, 5])
    assert (r.max_seq, r.open_gaps, r.detected) == (5, ((3, 4),), ((3, 4),))
    r = reconcile(r.max_seq, r.open_gaps, [3])
    assert r.open_gaps == ((4, 4),)


def test_shed_report_explains_a_gap() -> None:
    r = reconcile(0, [], [1, 4, 5])
    r = reconcile(r.max_seq, r.open_gaps, [6], shed=[(2, 3)])
    assert r.open_gaps == () and r.explained == ((2, 3),)


def test_collector_made_events_are_outside_the_sequence() -> None:
    assert reconcile(3, [], [0]).max_seq == 3


@given(st.lists(st.lists(st.integers(1, 60), max_size=10), max_size=8), st.sets(st.integers(1, 60), max_size=10))
def test_open_gaps_are_exactly_the_missing_numbers(batches: list[list[int]], shed: set[int]) -> None:
    max_seq: int = 0
    gaps: tuple[tuple[int, int], ...] = ()
    seen: set[int] = set()
    for i, batch in enumerate(batches):
        shed_now = [(s, s) for s in sorted(shed)] if i == len(batches) - 1 else []
        r = reconcile(max_seq, gaps, batch, shed_now)
        max_seq, gaps = r.max_seq, r.open_gaps
        seen.update(batch)
    explained = shed if batches else set()
    missing = {s for s in range(1, max_seq + 1) if s not in seen and s not in explained}
    assert {s for a, b in gaps for s in range(a, b + 1)} == missing
    assert max_seq == max(seen, default=0)


def test_a_new_outbox_epoch_is_a_reset_not_a_storm_of_gaps() -> None:
    r = reconcile(0, [], [1, 2, 3, 7, 8])  # epoch A: gap 4..6
    start = enter_epoch("A", r.max_seq, r.open_gaps, "B", [1, 2, 3])
    assert start.reset and start.closed_by_reset == ((4, 6),)
    after = reconcile(start.max_seq, start.open_gaps, [1, 2, 3])
    assert after.open_gaps == () and after.max_seq == 3
    # Its own jumps are still gaps.
    assert reconcile(after.max_seq, after.open_gaps, [6]).detected == ((4, 5),)


def test_same_epoch_and_old_agents_continue_the_sequence() -> None:
    assert not enter_epoch("A", 9, [(3, 4)], "A", [10]).reset
    assert enter_epoch("A", 9, [(3, 4)], "", [10]).max_seq == 9
    # First epoch from a device known before epochs: continuing numbers, or filling a gap, continue.
    assert not enter_epoch("", 9, [(3, 4)], "B", [4, 10, 11]).reset
    assert enter_epoch("", 9, [(3, 4)], "B", [10]).epoch == "B"
    # ... but numbers restarting below what was seen mean the outbox was replaced.
    assert enter_epoch("", 9, [(3, 4)], "B", [1, 2]).reset
    assert not enter_epoch("", 0, [], "B", [1]).reset


@given(st.lists(st.integers(1, 40), min_size=1, max_size=40), st.lists(st.integers(1, 40), min_size=1, max_size=40))
def test_after_a_reset_gaps_are_only_the_new_epochs_missing_numbers(old: list[int], new: list[int]) -> None:
    r = reconcile(0, [], old)
    start = enter_epoch("A", r.max_seq, r.open_gaps, "B", new)
    after = reconcile(start.max_seq, start.open_gaps, new)
    missing = {s for s in range(1, max(new) + 1) if s not in new}
    assert {s for a, b in after.open_gaps for s in range(a, b + 1)} == missing
