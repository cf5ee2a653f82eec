"""Ingest writes the device name into its insert statement (quoted): any name must round-trip intact."""

from __future__ import annotations

import pytest

from collector.store.base import IncomingEvent, Store


@pytest.mark.parametrize("name", ["LAPTOP-O'BRIEN", "x'); DROP TABLE events; --", "Ŵyn-ŝ-laptop", "a%s?b"])
def test_any_device_name_ingests_and_reads_back(store: Store, name: str) -> None:
    store.register_device(name, f"fp-{name}", 1)
    events = [IncomingEvent(f"e{i}", i, "test", i, "0.1", bytes([i])) for i in (1, 2)]
    outcome = store.ingest([(name, events)], 7)
    assert (outcome.stored, outcome.duplicates) == (2, 0)
    assert [(e.device, e.event_id, e.received_at_us) for e in store.list_events()] == [(name, "e1", 7), (name, "e2", 7)]
    assert store.ingest([(name, events)], 8).duplicates == 2
    assert store.count_events(name) == 2
