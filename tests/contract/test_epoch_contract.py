"""Outbox epochs in storage: a device's fresh outbox (seq from 1 again) is not a storm of gaps."""

from __future__ import annotations

import uuid

from collector.store.base import IncomingEvent, Store


def _ev(seq: int, epoch: str) -> IncomingEvent:
    return IncomingEvent(str(uuid.uuid4()), seq, "test", 1_700_000_000_000_000 + seq, "1.0", b"\x08\x01", (), epoch)


def test_a_new_epoch_restarts_the_sequence_without_spurious_gaps(store: Store) -> None:
    store.register_device("a", "SHA256:a", 1)
    store.ingest([("a", [_ev(s, "epoch-1") for s in (1, 2, 3, 6, 7)])], 10)  # 4..5 missing in epoch 1
    assert [(g.first_seq, g.last_seq, g.explained) for g in store.sequence_gaps("a")] == [(4, 5, None)]
    out = store.ingest([("a", [_ev(s, "epoch-2") for s in (1, 2, 3)])], 20)  # the outbox was replaced
    assert out.gaps_detected == 0
    gaps = [(g.first_seq, g.last_seq, g.explained) for g in store.sequence_gaps("a")]
    assert gaps == [(4, 5, "outbox-reset")], gaps
    # A jump inside the new epoch is still a gap.
    assert store.ingest([("a", [_ev(6, "epoch-2")])], 30).gaps_detected == 1
    assert [(g.first_seq, g.last_seq) for g in store.sequence_gaps("a") if g.explained is None] == [(4, 5)]
    assert store.count_events("a") == 9


def test_events_without_an_epoch_keep_the_old_sequence(store: Store) -> None:
    store.register_device("a", "SHA256:a", 1)
    store.ingest([("a", [_ev(s, "") for s in (1, 2, 3)])], 10)
    # An upgraded agent stamps its kept outbox with an epoch and carries on numbering.
    assert store.ingest([("a", [_ev(s, "epoch-1") for s in (4, 5)])], 20).gaps_detected == 0
    assert store.ingest([("a", [_ev(7, "epoch-1")])], 30).gaps_detected == 1
