"""End to end over mTLS on loopback: nothing lost, nothing twice, order kept, through crashes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration


def _test_events(collector: Collector, device: str) -> list[dict]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device, "--json",
                  timeout=300).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == "test"]


def test_events_flow_and_can_be_inspected(collector: Collector, make_agent: Callable[..., Agent]) -> None:
    collector.start()
    agent = make_agent("laptop-1")
    agent.emit(25)
    agent.start()
    wait_for(lambda: collector.count("test", "laptop-1") == 25, 30, "25 events at the collector")
    events = _test_events(collector, "laptop-1")
    assert sorted(e["index"] for e in events) == list(range(25))
    first = events[0]
    assert {"device", "event_id", "seq", "kind", "occurred_at", "received_at", "note"} <= set(first)
    assert first["device"] == "laptop-1" and first["note"] == "synthetic"
    assert collector.count("agent_started", "laptop-1") == 1
    wait_for(lambda: agent.status()["outbox_depth"] == 0, 10, "outbox drained")
    status = agent.status()
    assert status["last_delivery_at"] is not None and status["shed_total"] == 0
    devices = [json.loads(x) for x in run_cli("collector", "devices", "list", "--data-dir",
                                             str(collector.data_dir), "--json").stdout.splitlines()]
    assert devices[0]["device"] == "laptop-1" and int(devices[0]["events"]) >= 26 and devices[0]["open_gaps"] == 0
    ping = json.loads(run_cli("agent", "ping", "--config", str(agent.config)).stdout)
    assert ping["device_id"] == "laptop-1"
    assert agent.stop() < 5, "agent must stop promptly on SIGTERM"


def test_collector_down_for_a_while_then_back_everything_arrives_in_order(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    agents = [make_agent(f"laptop-{i}") for i in range(2)]
    for a in agents:
        a.start()
        a.emit(300)
    time.sleep(2)  # the agents retry against a collector that is not there
    for a in agents:
        assert int(str(a.status()["outbox_depth"])) >= 300
        assert a.status()["last_error"], "the agent should say why delivery is failing"
    collector.start()
    for a in agents:
        name = a.name
        wait_for(lambda n=name: collector.count("test", n) == 300, 60, f"{name}'s events")  # type: ignore[misc]
        stored = list(collector.store().list_events(name))
        seqs = [e.seq for e in stored if e.seq > 0]
        assert seqs == sorted(seqs), "events must be stored in per-device order of sequence"
        assert seqs == list(range(1, len(seqs) + 1)), "no sequence numbers missing"


def test_agent_killed_with_10000_undelivered_loses_and_duplicates_nothing(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent("laptop-k", settings="[outbox]\nbatch_size = 25\n")
    agent.start()  # collector is down: everything stays in the outbox
    agent.emit(10_000)
    time.sleep(0.5)
    agent.kill9()
    assert int(str(agent.status()["outbox_depth"])) >= 10_000
    collector.start()
    agent.start()
    wait_for(lambda: collector.count("test", "laptop-k") > 0, 30, "delivery to start")
    agent.kill9()  # and again, mid-stream
    mid = collector.count("test", "laptop-k")
    agent.start()
    wait_for(lambda: collector.count("test", "laptop-k") == 10_000, 120, "all 10,000 events")
    time.sleep(1)  # anything duplicated would land now
    events = _test_events(collector, "laptop-k")
    assert len(events) == 10_000
    assert sorted(e["index"] for e in events) == list(range(10_000))
    assert len({e["event_id"] for e in events}) == 10_000
    print(f"second kill happened with {mid} of 10000 stored")


def test_collector_killed_mid_stream_stores_exactly_50000(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent("laptop-c", settings="[outbox]\nbatch_size = 100\n")
    agent.emit(50_000)
    collector.start()
    agent.start()
    wait_for(lambda: collector.count("test") >= 2_000, 60, "delivery under way", interval=0.01)
    collector.kill9()
    at_kill = collector.count("test")
    assert at_kill < 50_000, "the kill must land mid-stream for this test to mean anything"
    time.sleep(1)
    collector.start()
    wait_for(lambda: collector.count("test", "laptop-c") >= 50_000, 180, "all 50,000 events")
    time.sleep(1.5)
    db = sqlite3.connect(collector.data_dir / "collector.sqlite3")
    total, distinct, idx = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT event_id), COUNT(DISTINCT seq) FROM events WHERE kind = 'test'"
    ).fetchone()
    db.close()
    assert (total, distinct, idx) == (50_000, 50_000, 50_000)
    print(f"collector was killed with {at_kill} of 50000 stored")
