"""UUIDv7 layout and ordering."""

from __future__ import annotations

import time

from agent.ids import uuid7


def test_version_variant_and_timestamp() -> None:
    future_ms = time.time_ns() // 1_000_000 + 3_600_000
    u = uuid7(now_ns=future_ms * 1_000_000)
    assert u.version == 7
    assert u.variant == "specified in RFC 4122"
    assert u.int >> 80 == future_ms


def test_ids_made_in_one_millisecond_still_sort_in_order() -> None:
    ids = [uuid7(now_ns=time.time_ns()) for _ in range(100)]
    assert ids == sorted(ids) and len(set(ids)) == 100
