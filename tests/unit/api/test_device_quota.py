"""Per-device limits as pure logic: the rate bucket, the storage quota, and what is never refused."""

from __future__ import annotations

from agent.events import KIND_CLASSES, DeliveryClass
from collector.ingest.quota import NEVER_REFUSED_KINDS, DeviceLimits, DeviceQuota, split_by_class
from collector.store.base import IncomingEvent


def _ev(kind: str) -> IncomingEvent:
    return IncomingEvent("id", 1, kind, 0, "t", b"x")


def test_the_collector_never_refuses_what_the_agent_never_drops() -> None:
    assert {k for k, c in KIND_CLASSES.items() if c is DeliveryClass.CRITICAL} == NEVER_REFUSED_KINDS


def test_a_device_within_its_rate_is_never_throttled() -> None:
    quota = DeviceQuota(DeviceLimits(events_per_minute=600, bytes_stored=0))
    # 10 events a second for ten minutes, in batches of 5 every half second: exactly the rate.
    assert all(quota.check("a", 5, 0, 0, 0, t / 2) is None for t in range(1200))


def test_over_its_rate_a_device_waits_off_its_debt_and_others_are_unaffected() -> None:
    quota = DeviceQuota(DeviceLimits(events_per_minute=60, bytes_stored=0))
    assert quota.check("a", 500, 0, 0, 0, 0.0) is None, "a full bucket admits one batch, even a big one"
    refused = quota.check("a", 1, 0, 0, 0, 1.0)
    assert refused is not None and refused.limit == "rate"
    assert refused.retry_after_s == 440  # (1 - (60 - 500 + 1)) tokens at 1 a second
    assert "[limits] device_events_per_minute" in refused.message and "retry after 440 s" in refused.message
    assert quota.check("b", 500, 0, 0, 0, 1.0) is None, "another device has its own bucket"
    assert quota.check("a", 1, 0, 0, 0, 440.0) is not None
    assert quota.check("a", 1, 0, 0, 0, 442.0) is None


def test_breach_class_events_are_counted_but_never_refused() -> None:
    quota = DeviceQuota(DeviceLimits(events_per_minute=60, bytes_stored=100))
    assert quota.check("a", 0, 1000, 0, 0, 0.0) is None
    assert quota.check("a", 0, 5, 10**9, 0, 1.0) is None, "over every limit, a batch of only breach events passes"
    refused = quota.check("a", 1, 0, 0, 0, 2.0)
    assert refused is not None and refused.limit == "rate", "the breach events used the bucket"


def test_over_its_storage_quota_a_device_retries_hourly() -> None:
    quota = DeviceQuota(DeviceLimits(events_per_minute=0, bytes_stored=1000))
    assert quota.check("a", 10, 0, 900, 100, 0.0) is None
    refused = quota.check("a", 10, 0, 900, 101, 0.0)
    assert refused is not None and (refused.limit, refused.retry_after_s) == ("storage", 3600)
    assert "[limits] device_bytes_stored" in refused.message


def test_split_keeps_batch_order_within_each_class() -> None:
    events = [_ev("test"), _ev("case_file_egress"), _ev("heartbeat"), _ev("lock_failed")]
    critical, routine = split_by_class(events)
    assert [e.kind for e in critical] == ["case_file_egress", "lock_failed"]
    assert [e.kind for e in routine] == ["test", "heartbeat"]
