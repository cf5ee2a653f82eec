"""Per-device limits on a real `serve`: a device over its rate is held, its breach still gets through.

A real collector (SQLite, ``[limits] device_events_per_minute = 100``) and two real agents:
one floods routine events with a case-file egress queued behind them, the other sends a few.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from tests.integration.harness import EGRESS, Agent, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration


def _incidents(collector: Collector) -> list[dict[str, Any]]:
    out = run_cli("collector", "incidents", "list", *collector.store_args, "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _throttled(ops_url: str) -> float:
    text = httpx.get(f"{ops_url}/metrics", timeout=10).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "caseguard_events_throttled_total" and s.labels.get("limit") == "rate"
    )


def test_a_device_over_its_rate_is_held_while_its_egress_becomes_an_incident_and_others_deliver(
    tmp_path: Path, collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[limits]\ndevice_events_per_minute = 100\n[workflow]\ntick_interval_s = 1\n")
    ops_port = free_port()
    collector.start("--config", str(config), "--ops", f"127.0.0.1:{ops_port}")
    ops_url = f"http://127.0.0.1:{ops_port}"

    flood = make_agent("laptop-flood")
    flood.emit(1500)  # three batches of 500: the first empties the bucket, the rest must wait
    run_cli("agent", "emit", "--config", str(flood.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    quiet = make_agent("laptop-quiet")
    quiet.emit(50)
    flood.start()
    wait_for(lambda: collector.count("test", "laptop-flood") >= 500, 30, "the flood's first batch")
    quiet.start()

    wait_for(lambda: len(_incidents(collector)) == 1, 30, "an incident from the egress queued behind the flood")
    [incident] = _incidents(collector)
    assert incident["state"] == "suspected"
    assert collector.count("case_file_egress", "laptop-flood") == 1
    wait_for(lambda: collector.count("test", "laptop-quiet") == 50, 30, "the other device's events")

    time.sleep(3)  # the throttled agent keeps its routine events: nothing more may arrive
    assert collector.count("test", "laptop-flood") == 500
    status = flood.status()
    assert int(str(status["outbox_depth"])) >= 1000 and status["dead_letters"] == 0, status  # + agent_started
    assert "collector throttles this device" in flood.log()
    log = collector.log()
    assert "device laptop-flood is over its rate limit ([limits] device_events_per_minute)" in log
    assert "laptop-quiet is over" not in log
    assert _throttled(ops_url) >= 500

    # What the device is told, as any client sees it: the limit's name and when to retry.
    certs = tmp_path / "laptop-flood-certs"
    creds = grpc.ssl_channel_credentials(
        (certs / "ca.pem").read_bytes(), (certs / "device.key").read_bytes(), (certs / "device.pem").read_bytes()
    )
    routine = events_pb2.Event(event_id=str(uuid.uuid4()), seq=99_999, device_id="laptop-flood", agent_version="t")
    routine.occurred_at.GetCurrentTime()
    routine.test.index = 1
    with grpc.secure_channel(collector.address, creds) as channel, pytest.raises(grpc.RpcError) as refused:
        collector_pb2_grpc.CollectorStub(channel).SendEvents(
            collector_pb2.SendEventsRequest(events=[routine]), timeout=10
        )
    error: Any = refused.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "device_events_per_minute" in error.details() and "retry after" in error.details()
    retry_after = dict(error.trailing_metadata())["caseguard-retry-after-s"]
    assert 60 <= int(retry_after) <= 600, retry_after
    flood.stop()
    quiet.stop()
