"""What one enrolled device sends never stops the collector for the others (real collector, real mTLS)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format

from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2
from tests.integration.harness import EGRESS, Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration

# 33658-01-01: well past datetime's year 9999, and a valid protobuf Timestamp's range too.
YEAR_33658_S = 999_999_999_999


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


def _incidents(collector: Collector) -> list[dict[str, object]]:
    out = run_cli("collector", "incidents", "list", "--data-dir", str(collector.data_dir), "--json")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_poison_values_from_one_device_are_refused_alone_and_others_still_become_incidents(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    rogue_certs = collector.issue("rogue-laptop", tmp_path / "rogue-certs")

    far_future = _egress("rogue-laptop", 1)
    far_future.occurred_at.seconds = YEAR_33658_S
    huge_seq = _egress("rogue-laptop", 2**63)
    lost_at_33658 = _egress("rogue-laptop", 3)
    lost_at_33658.ClearField("case_file_egress")
    lost_at_33658.lost_device_report.device_name = "rogue-laptop"
    lost_at_33658.lost_device_report.lost_at.seconds = YEAR_33658_S
    forged_reporter = _egress("rogue-laptop", 4)
    forged_reporter.ClearField("case_file_egress")
    forged_reporter.lost_device_report.device_name = "rogue-laptop"
    forged_reporter.lost_device_report.reported_by = "console:ig.officer"
    fine = _egress("rogue-laptop", 5)
    with _channel(collector, rogue_certs) as ch:
        stub = collector_pb2_grpc.CollectorStub(ch)
        reply = stub.SendEvents(
            collector_pb2.SendEventsRequest(events=[far_future, huge_seq, lost_at_33658, forged_reporter, fine]),
            timeout=10,
        )
        lost_reply_code = None
        request = collector_pb2.ReportLostDeviceRequest()
        request.report.device_name = "rogue-laptop"
        request.report.lost_at.seconds = YEAR_33658_S
        try:
            stub.ReportLostDevice(request, timeout=10)
        except grpc.RpcError as exc:
            lost_reply_code = exc.code()

    reasons = {r.event_id: r.reason for r in reply.rejected}
    assert set(reasons) == {far_future.event_id, huge_seq.event_id, lost_at_33658.event_id, forged_reporter.event_id}
    assert "occurred_at" in reasons[far_future.event_id] and "clock" in reasons[far_future.event_id]
    assert "seq" in reasons[huge_seq.event_id]
    assert "ReportLostDevice" in reasons[forged_reporter.event_id]
    assert list(reply.acknowledged_event_ids) == [fine.event_id]
    assert lost_reply_code is grpc.StatusCode.INVALID_ARGUMENT

    # The well-formed egress of the same device, and a good agent's egress, both become incidents.
    good = make_agent("good-laptop")
    run_cli("agent", "emit", "--config", str(good.config), "--kind", "case_file_egress", "--body", json.dumps(EGRESS))
    good.start()
    wait_for(lambda: {d for i in _incidents(collector) for d in i["devices"]} == {"rogue-laptop", "good-laptop"},  # type: ignore[attr-defined]
             30, "incidents for both devices' egress")
    listed = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--json")
    assert len(listed.stdout.splitlines()) >= 2
    run_cli("collector", "devices", "list", "--data-dir", str(collector.data_dir), "--json")


def test_device_supplied_control_characters_are_escaped_in_every_human_readable_output(
    collector: Collector, tmp_path: Path
) -> None:
    collector.start()
    certs = collector.issue("odd-laptop", tmp_path / "odd-certs")
    ev = _egress("odd-laptop", 1)
    ev.case_file_egress.copy_burst_id = "\x1b]0;pwned\x07\x1b[2J\u202eburst"
    ev.case_file_egress.destination_kind = "usb\x1b[8m"
    with _channel(collector, certs) as ch:
        collector_pb2_grpc.CollectorStub(ch).SendEvents(collector_pb2.SendEventsRequest(events=[ev]), timeout=10)
    wait_for(lambda: len(_incidents(collector)) == 1, 30, "the incident")
    [incident] = _incidents(collector)
    data = ["--data-dir", str(collector.data_dir)]
    # Stored text from people too (a console form, a CLI argument) ends up in the same outputs.
    run_cli("collector", "incidents", "dismiss", str(incident["incident_id"]), "--by", "ig\x1b[8m",
            "--reason", "test copy\x1b]0;owned\x07\x1b[1A\x1b[2K", *data)
    outputs = {
        "incidents show": run_cli("collector", "incidents", "show", str(incident["incident_id"]), *data).stdout,
        "events list": run_cli("collector", "events", "list", *data).stdout,
        "export-ico": run_cli("collector", "incidents", "export-ico", str(incident["incident_id"]), "--by", "ig",
                              *data).stdout,
        "register": run_cli("collector", "incidents", "register", "--by", "ig", *data).stdout,
    }
    out_dir = tmp_path / "ico"
    run_cli("collector", "incidents", "export-ico", str(incident["incident_id"]), "--by", "ig", "--out", str(out_dir),
            *data)
    outputs["export-ico file"] = next(out_dir.glob("*.txt")).read_text()
    for name, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, name
    assert "\\x1b]0;owned\\x07" in outputs["incidents show"] and "\\x1b[8m" in outputs["register"]
