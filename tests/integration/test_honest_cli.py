"""Small honest things, with the real agent and collector: enrol twice, report yourself lost, ping, status."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.pki import fingerprint_of_pem
from tests.integration.harness import Agent, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def enrolling(collector: Collector) -> Iterator[tuple[Collector, str, str]]:
    port = free_port()
    collector.start("--enroll-listen", f"127.0.0.1:{port}")
    yield collector, f"127.0.0.1:{port}", fingerprint_of_pem((collector.data_dir / "pki" / "ca.pem").read_bytes())


def _devices(collector: Collector) -> dict[str, dict[str, object]]:
    out = run_cli("collector", "devices", "list", "--data-dir", str(collector.data_dir), "--json").stdout
    return {d["device"]: d for d in map(json.loads, out.splitlines())}


def test_enrolling_twice_needs_force_and_retires_the_old_identity(
    enrolling: tuple[Collector, str, str], tmp_path: Path
) -> None:
    collector, address, pin = enrolling
    token = run_cli("collector", "enroll-token", "create", "--data-dir", str(collector.data_dir), "--expires", "1h",
                    "--uses", "3").stdout.strip()
    agent = Agent(tmp_path, "twice", [collector.address], tmp_path / "twice-certs")
    agent.write_config()

    def enroll(*extra: str) -> tuple[int, str, str]:
        p = run_cli("agent", "enroll", "--config", str(agent.config), "--collector", address, "--token", token,
                    "--ca-fingerprint", pin, "--label", "LAPTOP-7", *extra, check=False)
        return p.returncode, p.stdout, p.stderr

    code, out, _ = enroll()
    assert code == 0
    first = out.split("enrolled as ")[1].split(";")[0]
    cert = (agent.cert_dir / "device.pem").read_bytes()
    code, _, err = enroll()
    assert code == 2 and f"already enrolled as {first}" in err and "--force" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (agent.cert_dir / "device.pem").read_bytes() == cert, "the identity was not replaced"
    code, out, err = enroll("--force")
    assert code == 0, err
    second = out.split("enrolled as ")[1].split(";")[0]
    assert second != first and f"retired the old identity {first}" in out
    devices = _devices(collector)
    assert devices[first]["revoked"] and not devices[second]["revoked"], devices


def test_report_lost_refuses_this_device_and_ping_and_status_are_honest(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    agent = make_agent("selfie")
    lost = run_cli("agent", "report-lost", "--config", str(agent.config), "--device", "selfie", check=False)
    assert lost.returncode == 2 and "selfie is this device" in lost.stderr and "/report" in lost.stderr
    assert not _devices(collector)["selfie"]["lost"]

    ping = json.loads(run_cli("agent", "ping", "--config", str(agent.config)).stdout)
    assert ping["device_id"] == "selfie" and ping["policy_version"] == "0"  # local settings only

    agent.emit(3)
    status = run_cli("agent", "status", "--config", str(agent.config)).stdout
    assert "None" not in status and "{}" not in status, status
    assert "3 event(s) waiting" in status and "Last delivery:   never" in status
    data = json.loads(run_cli("agent", "status", "--config", str(agent.config), "--json").stdout)
    assert data["outbox_depth"] == 3 and data["next_seq"] == 4 and data["last_delivery_at"] is None
    assert data["shed_by_kind"] == {} and data["shed_total"] == 0
    agent.start()
    wait_for(lambda: collector.count("test", "selfie") == 3, 30, "delivery")
    agent.stop()
    data = json.loads(run_cli("agent", "status", "--config", str(agent.config), "--json").stdout)
    assert isinstance(data["last_delivery_at"], str) and data["outbox_depth"] >= 0
