"""The collector's boundary checks: out-of-range values reject one event, never a batch."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from caseguard.v1 import collector_pb2, events_pb2
from collector.store.base import IncomingEvent, IngestOutcome, Store, StoreError
from collector.store.factory import open_store
from collector.store.group_commit import GroupCommitWriter
from collector.wire import codec
from collector.wire.validation import MAX_STORED_INT

NOW_US = 1_780_000_000 * 1_000_000  # 2026-05-28
YEAR_33658_S = 999_999_999_999


def _event(seq: int = 1, at_s: int = NOW_US // 1_000_000) -> events_pb2.Event:
    ev = events_pb2.Event(event_id=str(uuid.uuid4()), seq=seq, agent_version="t")
    ev.occurred_at.seconds = at_s
    ev.test.index = 1
    return ev


def _decode(*events: events_pb2.Event) -> codec.DecodedBatch:
    return codec.decode_send_events(collector_pb2.SendEventsRequest(events=list(events)), NOW_US)


def test_far_future_and_far_past_timestamps_reject_only_their_event() -> None:
    future, past, fine = _event(1, YEAR_33658_S), _event(2, 0), _event(3)
    batch = _decode(future, past, fine)
    assert [e.event_id for e in batch.events] == [fine.event_id]
    assert "ahead of the collector's clock" in batch.rejected[future.event_id]
    assert "before 2020-01-01" in batch.rejected[past.event_id]


def test_moderate_skew_is_stored_and_counted() -> None:
    batch = _decode(_event(1, NOW_US // 1_000_000 + 3600), _event(2))
    assert len(batch.events) == 2 and batch.skewed == 1 and not batch.rejected


def test_seq_beyond_the_stores_integer_range_is_rejected() -> None:
    batch = _decode(_event(2**63), _event(MAX_STORED_INT))
    assert len(batch.events) == 1 and batch.events[0].seq == MAX_STORED_INT
    assert "seq must be at most" in next(iter(batch.rejected.values()))


def test_timestamps_and_wide_integers_inside_bodies_are_checked_at_any_depth() -> None:
    heartbeat = _event()
    heartbeat.heartbeat.posture.last_lock_at.seconds = YEAR_33658_S
    shed = _event(2)
    shed.events_shed.seq_ranges.add(first=1, last=2**63)
    volume = _event(3)
    volume.volume_mounted.volume.size_bytes = 2**64 - 1
    counts = _event(4)
    counts.events_shed.counts_by_kind["heartbeat"] = 2**63
    batch = _decode(heartbeat, shed, volume, counts)
    assert not batch.events
    assert "Heartbeat.posture.last_lock_at" in batch.rejected[heartbeat.event_id]
    assert "EventsShed.seq_ranges.last" in batch.rejected[shed.event_id]
    assert "VolumeMounted.volume.size_bytes" in batch.rejected[volume.event_id]
    assert "EventsShed.counts_by_kind" in batch.rejected[counts.event_id]


def test_lost_device_reports_cannot_arrive_through_send_events() -> None:
    ev = _event()
    ev.lost_device_report.device_name = "laptop-1"
    ev.lost_device_report.reported_by = "console:ig.officer"
    batch = _decode(ev)
    assert not batch.events and "ReportLostDevice" in batch.rejected[ev.event_id]


def test_lost_report_with_an_impossible_lost_at_is_refused() -> None:
    request = collector_pb2.ReportLostDeviceRequest()
    request.report.device_name = "laptop-2"
    request.report.lost_at.seconds = YEAR_33658_S
    with pytest.raises(codec.InvalidRequest, match="lost_at"):
        codec.decode_lost_report(request, "laptop-1", NOW_US)


class _GatedStore:
    """A real store whose first ingest waits until the test has queued more batches behind it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = threading.Event()
        self.groups: list[int] = []

    def ingest(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], received_at_us: int) -> IngestOutcome:
        self.gate.wait(10)
        self.groups.append(len(batches))
        return self.store.ingest(batches, received_at_us)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_a_failing_batch_never_fails_another_devices_batch_in_the_same_group(tmp_path: Path) -> None:
    store = _GatedStore(open_store(tmp_path))
    for name in ("first", "good", "bad"):
        store.store.register_device(name, f"fp-{name}", NOW_US)
    writer = GroupCommitWriter(store)  # type: ignore[arg-type]  # a Store by delegation
    results: dict[str, BaseException | None] = {}

    def submit(device: str, seq: int) -> None:
        try:
            writer.submit(device, [IncomingEvent(str(uuid.uuid4()), seq, "test", NOW_US, "t", b"")])
            results[device] = None
        except BaseException as exc:
            results[device] = exc

    threads = [threading.Thread(target=submit, args=("first", 1))]
    threads[0].start()
    threading.Event().wait(0.2)  # the writer takes the first batch and waits at the gate
    threads += [threading.Thread(target=submit, args=(d, s)) for d, s in (("good", 1), ("bad", 2**63))]
    for t in threads[1:]:
        t.start()
    threading.Event().wait(0.2)  # both queued behind the gated first group
    store.gate.set()
    for t in threads:
        t.join(10)
    writer.stop()
    assert results["first"] is None and results["good"] is None
    assert isinstance(results["bad"], StoreError)
    good = store.store.get_device("good")
    assert good is not None and good.max_seq == 1
    assert max(store.groups) == 2  # good and bad really did share a group before being split
    store.store.close()
