"""Auto-lock end to end: real X input under Xvfb, a real screen locker, the session component,
the system agent's outbox and the collector."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for
from tests.integration.xvfb import XServer

pytestmark = pytest.mark.integration

LOCK_SETTINGS = """
[lock]
idle_timeout_s = 3
warn_s = 1
command = ["i3lock", "-n"]
[posture]
lock_interval_s = 1
[heartbeat]
interval_s = 1
"""


def _i3lock_on(display: str) -> bool:
    for proc in psutil.process_iter(["name", "environ"]):
        try:
            if proc.info["name"] == "i3lock" and (proc.info["environ"] or {}).get("DISPLAY") == display:
                return True
        except psutil.Error:
            continue
    return False


def _events(collector: Collector, device: str, kind: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json").stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == kind]


def _start(collector: Collector, make_agent: Callable[..., Agent], xserver: XServer, name: str) -> Agent:
    collector.start()
    agent = make_agent(name, settings=LOCK_SETTINGS)
    agent.start()
    wait_for(agent.session_socket.exists, 15, "the agent's session channel")
    agent.start_session(xserver.env())
    return agent


def test_unattended_session_is_locked_and_the_collector_hears_of_it(
    collector: Collector, make_agent: Callable[..., Agent], xserver: XServer
) -> None:
    agent = _start(collector, make_agent, xserver, "laptop-idle")
    wait_for(lambda: bool(_events(collector, "laptop-idle", "lock_posture")), 20, "lock posture from the session")
    xserver.move_mouse(50, 50)
    last_input = time.monotonic()
    wait_for(lambda: _i3lock_on(xserver.display), 3 + 1 + 0.5, "i3lock within the idle timeout + 1 s")
    assert time.monotonic() - last_input <= 3 + 1 + 0.5
    wait_for(lambda: bool(_events(collector, "laptop-idle", "lock_enforced")), 15, "lock_enforced at the collector")
    event = _events(collector, "laptop-idle", "lock_enforced")[0]
    assert event["method"] == "command" and event["idle_timeout_s"] == 3
    # Lateness runs from the due time until i3lock's window is verified on screen; the same
    # 1 s + 0.5 s allowance as the wall-clock check above (i3lock took 1.06 s once on a loaded CI).
    assert float(str(event["lateness_s"])) <= 1.5
    posture = _events(collector, "laptop-idle", "lock_posture")[-1]
    assert posture["enforced_by_agent"] is True and posture["policy_idle_timeout_s"] == 3
    assert agent.proc is not None and agent.proc.poll() is None
    # The heartbeat carries the posture an IG officer needs if this laptop goes missing.
    wait_for(lambda: any(
        (e.get("posture") or {}).get("lock_enforced_by_agent") for e in _events(collector, "laptop-idle", "heartbeat")
    ), 15, "a heartbeat with the lock posture")
    beat = [e for e in _events(collector, "laptop-idle", "heartbeat") if e["posture"]][-1]["posture"]
    assert isinstance(beat, dict) and beat["os_lock_timeout_s"] is not None and "last_lock_at" in beat
    assert beat["encryption"].startswith("ENCRYPTION_STATE_")


def test_a_person_at_the_keyboard_is_never_locked_out(
    collector: Collector, make_agent: Callable[..., Agent], xserver: XServer
) -> None:
    _start(collector, make_agent, xserver, "laptop-busy")
    deadline = time.monotonic() + 8  # well past the 3 s timeout
    while time.monotonic() < deadline:
        xserver.move_mouse(int(time.monotonic() * 7) % 500, 100)
        assert not _i3lock_on(xserver.display), "locked while someone was using the laptop"
        time.sleep(1)
    assert _events(collector, "laptop-busy", "lock_enforced") == []
    # Input during the warning cancels it: wait into the warning window, then touch the mouse.
    xserver.move_mouse(10, 10)
    time.sleep(2.4)  # warning starts at 2 s
    xserver.move_mouse(300, 300)
    time.sleep(1.5)  # past the original 3 s deadline
    assert not _i3lock_on(xserver.display)


def test_x_server_dying_is_reported_and_the_agent_keeps_running(
    collector: Collector, make_agent: Callable[..., Agent], xserver: XServer
) -> None:
    agent = _start(collector, make_agent, xserver, "laptop-x")
    wait_for(lambda: bool(_events(collector, "laptop-x", "lock_posture")), 20, "the session component at work")
    xserver.kill()
    wait_for(lambda: any(e["component"] == "idle-clock" for e in _events(collector, "laptop-x", "coverage_degraded")),
             20, "coverage_degraded at the collector")
    assert agent.proc is not None and agent.proc.poll() is None
    assert agent.session_procs[0].poll() is None, "the session component must survive its X server"
    agent.emit(3)
    wait_for(lambda: collector.count("test", "laptop-x") == 3, 15, "the agent still delivering")
