"""The breach workflow's partial index covers exactly the kinds the workflow reads as alerts."""

from __future__ import annotations

from collector.store.schema import BREACH_INDEX_KINDS
from collector.wire.event_codec import ALERT_KINDS


def test_the_breach_index_covers_every_alert_kind() -> None:
    # A kind missing here is still read, but by a full scan of events on every workflow round.
    assert set(BREACH_INDEX_KINDS) == set(ALERT_KINDS)
