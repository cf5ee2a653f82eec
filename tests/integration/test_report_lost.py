"""`caseguard-agent report-lost`: a staff member reports another device lost, from an enrolled device."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.integration.harness import Agent, Collector, run_cli

pytestmark = pytest.mark.integration


def test_report_from_another_device_marks_the_device_lost(
    collector: Collector, make_agent: Callable[..., Agent]
) -> None:
    collector.start()
    lost = make_agent("laptop-lost")
    reporter = make_agent("laptop-desk")
    out = run_cli("agent", "report-lost", "--config", str(reporter.config), "--device", "laptop-lost",
                  "--when", "2026-11-20T17:30:00+00:00", "--circumstances", "left on a train",
                  "--locked", "yes").stdout
    assert "Reference:" in out and "information-governance" in out
    devices = {d["device"]: d for d in map(json.loads, run_cli(
        "collector", "devices", "list", "--data-dir", str(collector.data_dir), "--json").stdout.splitlines())}
    assert devices["laptop-lost"]["lost"] is True and devices["laptop-desk"]["lost"] is False
    events = [json.loads(x) for x in run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir),
                                             "--device", "laptop-lost", "--json").stdout.splitlines()]
    report = [e for e in events if e["kind"] == "lost_device_report"]
    assert len(report) == 1
    assert report[0]["reported_by"] == "laptop-desk"  # from the certificate, not the payload
    assert report[0]["was_locked"] is True and report[0]["lost_at"].startswith("2026-11-20T17:30")
    del lost


def test_unknown_device_gets_a_clear_answer(collector: Collector, make_agent: Callable[..., Agent]) -> None:
    collector.start()
    reporter = make_agent("laptop-desk2")
    proc = run_cli("agent", "report-lost", "--config", str(reporter.config), "--device", "no-such-laptop", check=False)
    assert proc.returncode == 1
    assert "no enrolled device named 'no-such-laptop'" in proc.stderr
