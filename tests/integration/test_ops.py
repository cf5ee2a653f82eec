"""The ops listener of a real `serve --ops`: probes need no certificate; a Prometheus scrape parses."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import httpx
import pytest
from google.protobuf import json_format
from prometheus_client.parser import text_string_to_metric_families

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from tests.integration.harness import EGRESS, Agent, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = httpx.get(f"{url}/metrics", timeout=10)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def _ready(url: str) -> int:
    return httpx.get(f"{url}/readyz", timeout=10).status_code


def test_probes_and_metrics_follow_what_happens_and_readyz_fails_while_the_workflow_fails(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    ops_port = free_port()
    config = tmp_path / "collector.toml"
    config.write_text("[workflow]\ntick_interval_s = 1\n")
    collector.start("--ops", f"127.0.0.1:{ops_port}", "--ready-workflow-s", "4", "--config", str(config))
    url = f"http://127.0.0.1:{ops_port}"
    wait_for(lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, 20, "/healthz")
    wait_for(lambda: _ready(url) == 200, 20, "/readyz")

    agent = make_agent("laptop-1")
    run_cli("agent", "emit", "--config", str(agent.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    run_cli("agent", "emit", "--config", str(agent.config), "--count", "9")
    agent.start()
    certs = collector.issue("odd-laptop", tmp_path / "odd")
    bad = events_pb2.Event(event_id=str(uuid.uuid4()), seq=1, device_id="odd-laptop", agent_version="t")
    bad.occurred_at.seconds = 999_999_999_999
    json_format.ParseDict(EGRESS, bad.case_file_egress)
    creds = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes(), (certs / "device.key").read_bytes(),
                                         (certs / "device.pem").read_bytes())
    with grpc.secure_channel(collector.address, creds) as ch:
        collector_pb2_grpc.CollectorStub(ch).SendEvents(collector_pb2.SendEventsRequest(events=[bad]), timeout=10)

    def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return _samples(url)

    wait_for(lambda: scraped().get(("caseguard_incidents", (("state", "suspected"),)), 0) == 1, 30,
             "the incident in the metrics")
    samples = scraped()
    assert samples[("caseguard_events_rejected_total", (("reason", "implausible_time"),))] == 1
    assert samples[("caseguard_events_stored_total", ())] >= 10
    assert samples[("caseguard_events_received_total", ())] >= 11
    assert samples[("caseguard_send_events_seconds_count", ())] >= 2
    assert samples[("caseguard_store_up", ())] == 1
    assert ("caseguard_notices_queued", ()) in samples and ("caseguard_workflow_lag_seconds", ()) in samples
    agent.stop()

    # Break the workflow (one of its tables vanishes): every round fails, and readiness says so.
    db = sqlite3.connect(collector.data_dir / "collector.sqlite3")
    db.execute("ALTER TABLE wf_warnings_sent RENAME TO wf_warnings_sent_gone")
    db.commit()
    wait_for(lambda: _ready(url) == 503, 30, "/readyz to fail")
    problems = httpx.get(f"{url}/readyz", timeout=10).json()["problems"]
    assert any("workflow runner" in p for p in problems)
    assert scraped()[("caseguard_workflow_rounds_total", (("outcome", "failed"), ("step", "tick")))] >= 1
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200  # alive, just not ready
    db.execute("ALTER TABLE wf_warnings_sent_gone RENAME TO wf_warnings_sent")
    db.commit()
    db.close()
    wait_for(lambda: _ready(url) == 200, 30, "/readyz to recover")
    assert "workflow tick recovered" in collector.log()
