"""The storage contract: idempotent ingest, sequence gaps, device registry."""

from __future__ import annotations

import uuid

import pytest

from collector.store.base import Device, DeviceExists, IncomingEvent, Store, StoreError, UnknownDevice


def _ev(seq: int, kind: str = "test", event_id: str | None = None, shed=()) -> IncomingEvent:
    body = b"\x08" + bytes([seq % 128])
    return IncomingEvent(event_id or str(uuid.uuid4()), seq, kind, 1_700_000_000_000_000 + seq, "1.0", body, shed)


def _must(d: Device | None) -> Device:
    assert d is not None
    return d


def _device(store: Store, name: str) -> Device:
    return _must(store.get_device(name))


def _enrol(store: Store, *names: str) -> None:
    for n in names:
        store.register_device(n, f"SHA256:{n}", 1)


def test_redelivered_batch_stores_nothing_twice(store: Store) -> None:
    _enrol(store, "a")
    batch = [_ev(i) for i in range(1, 101)]
    first = store.ingest([("a", batch)], 10)
    again = store.ingest([("a", batch)], 11)
    assert (first.stored, first.duplicates) == (100, 0)
    assert (again.stored, again.duplicates) == (0, 100)
    assert store.count_events("a") == 100


def test_repeats_inside_one_group_are_stored_once(store: Store) -> None:
    _enrol(store, "a")
    e = _ev(1)
    out = store.ingest([("a", [e]), ("a", [e])], 10)
    assert out.stored == 1 and store.count_events() == 1


def test_same_event_id_on_two_devices_is_two_events(store: Store) -> None:
    _enrol(store, "a", "b")
    eid = str(uuid.uuid4())
    store.ingest([("a", [_ev(1, event_id=eid)]), ("b", [_ev(1, event_id=eid)])], 10)
    assert store.count_events("a") == 1 and store.count_events("b") == 1


def test_events_come_back_intact_in_storage_order(store: Store) -> None:
    _enrol(store, "a")
    batch = [_ev(i) for i in range(1, 6)]
    store.ingest([("a", batch)], 42)
    got = list(store.list_events("a"))
    assert [g.event_id for g in got] == [e.event_id for e in batch]
    assert got[2].body == batch[2].body and got[2].received_at_us == 42
    assert got[2].occurred_at_us == batch[2].occurred_at_us


def test_gaps_are_recorded_filled_and_explained(store: Store) -> None:
    _enrol(store, "a")
    store.ingest([("a", [_ev(1), _ev(2), _ev(6), _ev(10)])], 100)
    open_gaps = [(g.first_seq, g.last_seq) for g in store.sequence_gaps("a") if g.explained is None]
    assert open_gaps == [(3, 5), (7, 9)]
    store.ingest([("a", [_ev(4), _ev(11, "events_shed", shed=((7, 9),))])], 200)
    gaps = store.sequence_gaps("a")
    assert [(g.first_seq, g.last_seq) for g in gaps if g.explained is None] == [(3, 3), (5, 5)]
    assert [(g.first_seq, g.last_seq) for g in gaps if g.explained == "shed"] == [(7, 9)]
    assert all(g.detected_at_us == 100 for g in gaps if g.explained is None)
    assert _device(store, "a").max_seq == 11


def test_events_for_an_unregistered_device_are_refused_whole(store: Store) -> None:
    _enrol(store, "a")
    with pytest.raises(StoreError):
        store.ingest([("a", [_ev(1)]), ("ghost", [_ev(1)])], 1)
    assert store.count_events() == 0


def test_device_registry(store: Store) -> None:
    store.register_device("laptop-1", "SHA256:aa", 5)
    with pytest.raises(DeviceExists):
        store.register_device("laptop-1", "SHA256:bb", 6)
    store.add_certificate("laptop-1", "SHA256:cc", 7)
    assert _must(store.device_for_certificate("SHA256:cc")).name == "laptop-1"
    assert store.device_for_certificate("SHA256:zz") is None
    store.revoke_device("laptop-1", 9)
    assert _must(store.device_for_certificate("SHA256:aa")).revoked_at_us == 9
    with pytest.raises(UnknownDevice):
        store.revoke_device("nobody", 9)
    store.mark_lost("laptop-1", 11)
    store.touch_device("laptop-1", 12)
    d = _device(store, "laptop-1")
    assert (d.lost_at_us, d.last_seen_at_us) == (11, 12)
    assert [x.name for x in store.list_devices()] == ["laptop-1"]


def test_stored_bytes_count_each_new_event_body_once(store: Store) -> None:
    _enrol(store, "a", "b")
    batch = [_ev(i) for i in range(1, 11)]
    assert store.stored_bytes("a") == 0
    store.ingest([("a", batch), ("b", batch[:3])], 10)
    store.ingest([("a", batch)], 11)  # a redelivery stores nothing, so counts nothing
    assert store.stored_bytes("a") == sum(len(e.body) for e in batch)
    assert store.stored_bytes("b") == sum(len(e.body) for e in batch[:3])
