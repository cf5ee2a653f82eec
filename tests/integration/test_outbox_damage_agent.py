"""A truncated, corrupted or deleted outbox with the real agent and collector.

The agent must keep running (no crash loop), report what happened (``coverage_degraded`` with
reason ``outbox-reset`` in a new epoch, or ``outbox-repaired`` when the readable events were kept),
deliver new events, and the collector must record no spurious sequence gaps: a new epoch is not
a storm of gaps, and after a repair the only open gaps are the rows that were really lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for

pytestmark = pytest.mark.integration

NOTE = "synthetic filler " * 40  # ~700 bytes a row: 300 undelivered events span many pages


def _events(collector: Collector, device: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [json.loads(line) for line in out.splitlines()]


def _open_gaps(collector: Collector, device: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "gaps", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json").stdout
    return [g for g in map(json.loads, out.splitlines()) if not g.get("explained")]


def _damage(outbox: Path, how: str) -> None:
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{outbox}{suffix}").unlink(missing_ok=True)
        return
    data = bytearray(outbox.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 3]
    else:  # one page in the middle of the undelivered rows overwritten, as a bad sector leaves it
        page = (len(data) * 2 // 3) // 4096 * 4096
        data[page : page + 4096] = os.urandom(4096)
    outbox.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "corrupted", "deleted"])
def test_damaged_outbox_is_survived_and_reported(
    collector: Collector, make_agent: Callable[..., Agent], how: str
) -> None:
    collector.start()
    agent = make_agent("laptop-o", settings="[egress]\nenabled = false\n")
    body = json.dumps({"index": 1, "note": NOTE})
    agent.start()
    wait_for(lambda: any(e["kind"] == "agent_started" for e in _events(collector, "laptop-o")), 30, "the agent")
    agent.stop()
    delivered_before = len(_events(collector, "laptop-o"))
    # Undelivered events in the outbox when the damage happens (the agent is not running).
    run_cli("agent", "emit", "--config", str(agent.config), "--count", "300", "--body", body)
    outbox = agent.root / "laptop-o-state" / "outbox.sqlite3"
    assert outbox.exists()
    _damage(outbox, how)

    agent.start()

    def report() -> dict[str, Any] | None:
        assert agent.proc is not None
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.log()[-3000:]}")
        found = [e for e in _events(collector, "laptop-o") if e["kind"] == "coverage_degraded"
                 and e["component"] == "outbox"]
        return found[0] if found else None

    wait_for(lambda: report() is not None, 30, "the outbox report at the collector")
    got = report()
    assert got is not None
    assert got["reason"] in ("outbox-reset", "outbox-repaired"), got
    if how == "deleted":
        assert (got["reason"], got["scope"]) == ("outbox-reset", "deleted")
    else:
        assert got["scope"] == "damaged"
    aside = [p for p in outbox.parent.iterdir() if ".damaged-" in p.name]
    assert bool(aside) is (how != "deleted"), "a damaged outbox is kept for forensics"

    # New events flow.
    run_cli("agent", "emit", "--config", str(agent.config), "--count", "20")
    wait_for(lambda: report() is not None and sum(
        e["kind"] == "test" and e.get("note") == "synthetic" for e in _events(collector, "laptop-o")) == 20,
        30, "20 new events at the collector")
    gaps = _open_gaps(collector, "laptop-o")
    if got["reason"] == "outbox-reset":
        assert gaps == [], f"a new epoch is not a gap: {gaps}"
    else:
        # The kept events are delivered under their old numbers; what is open is what was lost.
        lost = sum(g["last_seq"] - g["first_seq"] + 1 for g in gaps)
        assert lost == int(got["count"]), (gaps, got)  # uint64 is a JSON string in protobuf JSON
        kept = sum(e["kind"] == "test" and e.get("note") == NOTE for e in _events(collector, "laptop-o"))
        assert kept == 300 - lost
    assert len(_events(collector, "laptop-o")) > delivered_before
    assert agent.stop() < 15
    status = agent.status()
    assert isinstance(status["outbox_depth"], int) and isinstance(status["next_seq"], int)
