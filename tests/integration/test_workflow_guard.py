"""The breach workflow never stops (real collector, real mTLS): quarantine, the sweep, bounded ingest."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from tests.integration.harness import EGRESS, Collector, free_port, run_cli, wait_for
from tests.postgres_server import create_database, drop_database

pytestmark = pytest.mark.integration

YEAR_33658_US = 999_999_999_999 * 1_000_000  # occurred_at of an event stored before the boundary checks


def _channel(collector: Collector, certs: Path) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "device.key").read_bytes(),
        certificate_chain=(certs / "device.pem").read_bytes(),
    )
    return grpc.secure_channel(collector.address, creds)


def _egress(device: str, seq: int) -> events_pb2.Event:
    ev = events_pb2.Event(event_id=str(uuid.uuid4()), seq=seq, device_id=device, agent_version="test")
    ev.occurred_at.GetCurrentTime()
    json_format.ParseDict(EGRESS, ev.case_file_egress)
    return ev


def _egress_body() -> bytes:
    msg = events_pb2.CaseFileEgress()
    json_format.ParseDict(EGRESS, msg)
    return bytes(msg.SerializeToString())


def _incident_devices(collector: Collector) -> set[str]:
    out = run_cli("collector", "incidents", "list", *collector.store_args, "--json")
    return {d for line in out.stdout.splitlines() if line.strip() for d in json.loads(line)["devices"]}


def _quarantined(collector: Collector) -> list[dict[str, object]]:
    out = run_cli("collector", "workflow", "quarantine", "list", *collector.store_args, "--json")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def test_an_event_stored_the_old_way_is_quarantined_and_another_devices_egress_still_becomes_an_incident(
    collector: Collector, tmp_path: Path
) -> None:
    ops_port = free_port()
    collector.start("--ops", f"127.0.0.1:{ops_port}")
    ops = f"http://127.0.0.1:{ops_port}"
    collector.issue("old-laptop", tmp_path / "old-certs")
    good_certs = collector.issue("good-laptop", tmp_path / "good-certs")
    # An egress an older collector stored and acknowledged: occurred_at in the year 33658.
    poison_id = str(uuid.uuid4())
    db = sqlite3.connect(collector.data_dir / "collector.sqlite3", timeout=30)
    db.execute(
        "INSERT INTO events(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
        " VALUES (?,?,?,?,?,?,?,?)",
        ("old-laptop", poison_id, 1, "case_file_egress", YEAR_33658_US, time.time_ns() // 1000, "0.0.9",
         _egress_body()),
    )  # fmt: skip
    db.commit()
    db.close()

    started = time.monotonic()
    with _channel(collector, good_certs) as ch:
        reply = collector_pb2_grpc.CollectorStub(ch).SendEvents(
            collector_pb2.SendEventsRequest(events=[_egress("good-laptop", 1)]), timeout=10
        )
    assert len(reply.acknowledged_event_ids) == 1
    wait_for(lambda: _incident_devices(collector) == {"good-laptop"}, 15, "the good laptop's incident")
    assert time.monotonic() - started < 15

    [held] = _quarantined(collector)
    assert (held["device"], held["event_id"], held["kind"], held["cause"]) == (
        "old-laptop", poison_id, "case_file_egress", "event",
    )  # fmt: skip
    assert "year" in str(held["reason"])
    human = run_cli("collector", "workflow", "quarantine", "list", *collector.store_args).stdout
    assert poison_id in human and "old-laptop" in human
    assert _metric(ops, "caseguard_workflow_quarantined_events") == 1
    assert _metric(ops, "caseguard_workflow_lag_seconds") < 15  # the quarantined event is not "waiting"

    # The cursor is past it for good: a restart and more egress still make incidents promptly.
    collector.stop()
    collector.start()
    with _channel(collector, good_certs) as ch:
        second = _egress("good-laptop", 2)
        second.case_file_egress.copy_burst_id = "burst-2"
        second.case_file_egress.destination_kind = "dropbox_personal"
        second.case_file_egress.destination_class = events_pb2.DESTINATION_CLASS_PERSONAL_CLOUD
        collector_pb2_grpc.CollectorStub(ch).SendEvents(collector_pb2.SendEventsRequest(events=[second]), timeout=10)
    count = lambda: len(run_cli("collector", "incidents", "list", *collector.store_args, "--json").stdout.splitlines())  # noqa: E731
    wait_for(lambda: count() == 2, 15, "the second incident after a restart")
    # On demand: still failing, so still quarantined (and counted).
    retried = json.loads(run_cli("collector", "workflow", "quarantine", "retry", *collector.store_args,
                                 "--json").stdout)
    assert retried == {"retried": 1, "released": 0, "still_quarantined": 1}
    assert _quarantined(collector)[0]["attempts"] == 2


@pytest.fixture
def database_url(postgres_server_url: str, collector: Collector) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database that the ``collector`` fixture uses."""
    url = create_database(postgres_server_url)
    run_cli("collector", "migrate", "--data-dir", str(collector.data_dir), "--database-url", url)
    collector.database_url = url
    yield url
    drop_database(postgres_server_url, url)


def _cursor(url: str) -> int:
    with psycopg.connect(url) as db:
        row = db.execute("SELECT value FROM wf_counters WHERE name = 'event_cursor'").fetchone()
    return 0 if row is None else int(row[0])


def test_a_postgres_ingest_transaction_committed_after_the_settle_window_still_yields_its_incident(
    collector: Collector, database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[database]\nsettle_s = 1\n\n[workflow]\nsweep_interval_s = 1\n")
    collector.start("--config", str(config))
    collector.issue("slow-laptop", tmp_path / "slow-certs")
    busy_certs = collector.issue("busy-laptop", tmp_path / "busy-certs")

    # Another collector's ingest transaction takes its event id now and commits much later.
    slow = psycopg.connect(database_url)
    try:
        with slow.transaction():
            row = slow.execute(
                "INSERT INTO events(device, event_id, seq, kind, occurred_at, received_at, agent_version, body)"
                " VALUES (%s, %s, 1, 'case_file_egress', %s, %s, 'test', %s) RETURNING id",
                ("slow-laptop", str(uuid.uuid4()), time.time_ns() // 1000, time.time_ns() // 1000, _egress_body()),
            ).fetchone()
            assert row is not None
            held_id = int(row[0])
            # Meanwhile this collector stores later ids and its cursor settles past the held one.
            with _channel(collector, busy_certs) as ch:
                stub = collector_pb2_grpc.CollectorStub(ch)
                seq = 0

                def deliver() -> bool:
                    nonlocal seq
                    seq += 1
                    stub.SendEvents(collector_pb2.SendEventsRequest(events=[_egress("busy-laptop", seq)]), timeout=10)
                    return _cursor(database_url) > held_id

                wait_for(deliver, 30, "the workflow's cursor to pass the uncommitted event", interval=0.5)
        # Committed now: long after the settle window.
    finally:
        slow.close()
    wait_for(lambda: "slow-laptop" in _incident_devices(collector), 20, "the slow commit's incident (via the sweep)")
    assert "busy-laptop" in _incident_devices(collector)
