"""The breach workflow end to end: real collector and agent processes, real mTLS gRPC, the real CLI."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from collector.domain.clocks import LONDON, format_london
from collector.domain.ico_report import ANSWER_FIELDS, FORM
from collector.domain.register import REGISTER_COLUMNS
from tests.integration.harness import EGRESS, Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration

LOCKED = {
    "os_lock_timeout_s": 300,
    "os_lock_timeout_known": True,
    "password_on_wake": True,
    "password_on_wake_known": True,
    "enforced_by_agent": True,
}


def _state(state: str) -> dict[str, str]:
    return {"system_volume": state, "home_volume": state, "method": "luks2"}


def ig(collector: Collector, *args: str, check: bool = True) -> Any:
    """Run an IG command with --json; the parsed output (a list for line-per-object commands)."""
    proc = run_cli("collector", *args, "--data-dir", str(collector.data_dir), "--json", check=check)
    if not check:
        return proc
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return lines if args[:2] in (("incidents", "list"), ("audit", "list")) else lines[0]


def emit(agent: Agent, kind: str, body: dict[str, Any]) -> None:
    run_cli("agent", "emit", "--config", str(agent.config), "--kind", kind, "--body", json.dumps(body))


def _event(collector: Collector, device: str, kind: str) -> dict[str, Any]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device, "--json")
    return next(e for e in map(json.loads, out.stdout.splitlines()) if e["kind"] == kind)


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_agent_egress_to_confirmed_incident_export_register_and_tamper_check(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    agent = make_agent("laptop-1")
    emit(agent, "case_file_egress", EGRESS)
    agent.start()
    wait_for(lambda: len(ig(collector, "incidents", "list")) == 1, 30, "an incident from the egress event")
    [incident] = ig(collector, "incidents", "list")
    received = _iso(_event(collector, "laptop-1", "case_file_egress")["received_at"])
    clock = incident["clock"]
    assert incident["state"] == "suspected" and incident["alert_kinds"] == ["case_file_egress"]
    assert clock["kind"] == "provisional" and _iso(clock["started_at"]) == received
    assert _iso(clock["deadline"]) == received + timedelta(hours=72)
    assert incident["risk_grade"] in ("reportable", "high") and incident["risk_source"] == "draft"

    # Confirm with aware_at given in UK local time, in the minute of the signal (no justification needed;
    # a minute earlier would be before the copy happened, which the workflow now refuses).
    aware = received.replace(second=0, microsecond=0)
    local = aware.astimezone(LONDON).replace(tzinfo=None).isoformat()
    iid = incident["incident_id"]
    confirmed = ig(
        collector, "incidents", "confirm", iid, "--aware-at", local, "--reason", "copy confirmed", "--by", "ig.officer"
    )
    assert confirmed["state"] == "confirmed" and _iso(confirmed["aware_at"]) == aware
    assert _iso(confirmed["clock"]["deadline"]) == aware + timedelta(hours=72)
    assert confirmed["clock"]["deadline_london"] == format_london(aware + timedelta(hours=72))
    assert confirmed["clock"]["deadline_london"].endswith(("GMT", "BST"))

    assessed = ig(collector, "incidents", "assess", iid, "--by", "ig.officer")
    assert assessed["state"] == "assessed" and assessed["risk_source"] == "confirmed"
    decided = ig(
        collector, "incidents", "decide", iid, "--reportable", "--reason", "case files on a stick", "--by", "ig.officer"
    )
    assert decided["state"] == "reportable"

    # The ICO draft: every form field, no personal data, JSON and text.
    paths = ig(collector, "incidents", "export-ico", iid, "--by", "ig.officer", "--out", str(tmp_path / "ico"))
    draft = json.loads(Path(paths["json"]).read_text())
    sections = draft["sections"]
    assert set(sections) == {key for key, _, _ in FORM}
    assert {name for fields in sections.values() for name in fields} == set(ANSWER_FIELDS)
    assert sections["report"]["report_type"] == "initial" and draft["incident_id"] == iid
    assert "PERSONAL DATA BREACH REPORT TO THE ICO" in Path(paths["text"]).read_text()

    csv_path = tmp_path / "register.csv"
    ig(collector, "incidents", "register", "--by", "ig.officer", "--out", str(csv_path))
    header, row = csv_path.read_text().splitlines()[:2]
    assert header.split(",") == list(REGISTER_COLUMNS) and row.startswith(iid)

    verified = ig(collector, "audit", "verify")
    actions = [e["action"] for e in ig(collector, "audit", "list", "--incident", iid)]
    assert verified["ok"] and {"incident.open", "incident.confirm", "incident.assess", "ico_draft.export"} <= set(
        actions
    )

    # Someone edits a decision in the database: `audit verify` says so and exits 1.
    db = sqlite3.connect(collector.data_dir / "collector.sqlite3")
    db.execute("UPDATE wf_audit SET actor = 'someone.else' WHERE action = 'incident.confirm'")
    db.commit()
    db.close()
    proc = run_cli("collector", "audit", "verify", "--data-dir", str(collector.data_dir), check=False)
    assert proc.returncode == 1 and "edited" in proc.stdout and "BROKEN" in proc.stdout
    agent.stop()


def _channel(collector: Collector, certs: Path) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "device.key").read_bytes(),
        certificate_chain=(certs / "device.pem").read_bytes(),
    )
    return grpc.secure_channel(collector.address, creds)


def _report_lost(collector: Collector, reporter: Agent, device: str) -> str:
    report = events_pb2.LostDeviceReport(
        device_name=device, circumstances="left on a train (test)", was_locked=True, was_locked_known=True
    )
    report.lost_at.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
    with _channel(collector, reporter.cert_dir) as channel:
        reply = collector_pb2_grpc.CollectorStub(channel).ReportLostDevice(
            collector_pb2.ReportLostDeviceRequest(report=report), timeout=10
        )
    return str(reply.reference)


def _deliver_posture(collector: Collector, agent: Agent, encryption: str) -> None:
    """Run the agent; once it has reported its own first posture, emit ours so it is the newest."""
    agent.start()
    wait_for(lambda: collector.count("agent_started", agent.name) == 1, 30, f"{agent.name} started")
    with contextlib.suppress(AssertionError):  # agents that probe encryption at start do so first
        wait_for(lambda: collector.count("encryption_posture", agent.name) >= 1, 5, "the agent's own posture")
    before = collector.count("encryption_posture", agent.name)
    emit(agent, "encryption_posture", _state(encryption))
    emit(agent, "lock_posture", LOCKED)
    emit(agent, "heartbeat", {"posture": {"protected_documents_indexed": 25}, "interval_s": 300})
    wait_for(lambda: collector.count("encryption_posture", agent.name) == before + 1, 30, "the posture events")
    wait_for(lambda: collector.count("heartbeat", agent.name) >= 1, 30, "the heartbeat event")
    agent.stop()


def test_lost_device_reports_draft_by_posture_and_check_ins_raise_alerts(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    encrypted, plain, reporter = make_agent("enc-laptop"), make_agent("plain-laptop"), make_agent("desk-laptop")
    _deliver_posture(collector, encrypted, "ENCRYPTION_STATE_ENCRYPTED")
    _deliver_posture(collector, plain, "ENCRYPTION_STATE_NOT_ENCRYPTED")

    enc_id = _report_lost(collector, reporter, "enc-laptop")
    plain_id = _report_lost(collector, reporter, "plain-laptop")
    assert enc_id.startswith("INC-") and plain_id.startswith("INC-") and enc_id != plain_id  # opened at once
    enc = ig(collector, "incidents", "show", enc_id)
    unenc = ig(collector, "incidents", "show", plain_id)
    assert enc["clock"]["kind"] == unenc["clock"]["kind"] == "provisional"
    assert enc["draft_assessment"]["recommendation"] == "Unlikely to result in a risk: record internally"
    assert enc["risk_grade"] == "low" and not enc["draft_assessment"]["ico_reportable"]
    assert unenc["draft_assessment"]["recommendation"].startswith("Reportable, high risk")
    assert unenc["risk_grade"] == "high" and unenc["draft_assessment"]["high_risk"]
    assert any("encryption was on" in r for r in enc["draft_assessment"]["rationale"])
    assert any("not encrypted" in r for r in unenc["draft_assessment"]["rationale"])

    # The encrypted laptop turns up and calls Heartbeat; the other one sends an event.
    ping = json.loads(run_cli("agent", "ping", "--config", str(encrypted.config)).stdout)
    assert ping["reported_lost"] is True
    emit(plain, "test", {"index": 1})
    plain.start()
    for iid in (enc_id, plain_id):
        wait_for(
            lambda i=iid: "lost_device_check_in" in ig(collector, "incidents", "show", i)["alert_kinds"],  # type: ignore[misc]
            30,
            f"a check-in alert on {iid}",
        )
    plain.stop()
