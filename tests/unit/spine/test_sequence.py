"""Sequence-gap bookkeeping against a simple model: open gaps are exactly the missing numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector.ingest.sequence import reconcile


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
