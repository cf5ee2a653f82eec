"""Per-device sequence bookkeeping (pure): which sequence numbers never arrived.

Agents number their events 1, 2, 3, ... When events arrive with a jump, the missing
numbers become an open gap. A late arrival fills its slot; an ``events_shed`` report
explains the slots the agent deliberately dropped. What is left open is a real loss,
which the breach workflow alerts on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Range = tuple[int, int]  # inclusive


@dataclass(frozen=True)
class Reconciled:
    """The device's new state after a batch."""

    max_seq: int
    open_gaps: tuple[Range, ...]  # sorted, disjoint
    detected: tuple[Range, ...]  # gaps first seen in this batch
    explained: tuple[Range, ...]  # gap slots explained by shed reports in this batch


def reconcile(
    max_seq: int,
    open_gaps: Sequence[Range],
    arrived: Iterable[int],
    shed: Iterable[Range] = (),
) -> Reconciled:
    """Apply newly stored sequence numbers and shed reports to a device's state."""
    gaps = sorted(open_gaps)
    detected: list[Range] = []
    for seq in sorted(set(arrived)):
        if seq <= 0:
            continue  # collector-made events (e.g. lost-device reports) are outside the sequence
        if seq > max_seq:
            if seq > max_seq + 1:
                gap = (max_seq + 1, seq - 1)
                gaps.append(gap)
                detected.append(gap)
            max_seq = seq
        else:
            gaps = _subtract(gaps, (seq, seq))
            detected = _subtract(detected, (seq, seq))
    explained: list[Range] = []
    for rng in sorted(shed):
        explained.extend(_intersect(gaps, rng))
        gaps = _subtract(gaps, rng)
        detected = _subtract(detected, rng)
    return Reconciled(max_seq, tuple(sorted(gaps)), tuple(detected), tuple(explained))


def _subtract(ranges: Sequence[Range], cut: Range) -> list[Range]:
    lo, hi = cut
    out: list[Range] = []
    for a, b in ranges:
        if b < lo or a > hi:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo - 1))
        if b > hi:
            out.append((hi + 1, b))
    return out


def _intersect(ranges: Sequence[Range], window: Range) -> list[Range]:
    lo, hi = window
    return [(max(a, lo), min(b, hi)) for a, b in ranges if not (b < lo or a > hi)]


@dataclass(frozen=True)
class EpochStart:
    """Where a device's sequence stands once a batch's outbox epoch is taken into account."""

    epoch: str
    max_seq: int
    open_gaps: tuple[Range, ...]
    reset: bool  # the device started a fresh outbox: its sequence restarts at 1
    closed_by_reset: tuple[Range, ...]  # the old epoch's open gaps, now explained by the reset


def enter_epoch(
    current_epoch: str, max_seq: int, open_gaps: Sequence[Range], incoming_epoch: str, arrived: Iterable[int] = ()
) -> EpochStart:
    """Decide whether a batch numbered in ``incoming_epoch`` continues the device's sequence.

    - No epoch on the events (an agent older than epochs): the same sequence.
    - The same epoch, or the first epoch seen from a device with no sequence yet: the same.
    - The first epoch from a device known before epochs: the same sequence when its numbers
      continue it (an upgraded agent keeps its outbox); a reset when numbers at or below the
      highest seen arrive outside any open gap (the outbox was replaced).
    - A different epoch: a reset. The old epoch's open gaps are closed (the reset report says
      how many events may be lost) and the new epoch starts from seq 0, so its numbers 1, 2, ...
      are not a storm of late arrivals and its own jumps are still gaps.
    """
    gaps = tuple(sorted(open_gaps))
    if not incoming_epoch or incoming_epoch == current_epoch:
        return EpochStart(current_epoch, max_seq, gaps, False, ())
    if not current_epoch:
        low = [s for s in arrived if 0 < s <= max_seq]
        if not low or all(any(a <= s <= b for a, b in gaps) for s in low):
            return EpochStart(incoming_epoch, max_seq, gaps, False, ())
    return EpochStart(incoming_epoch, 0, (), True, gaps)
