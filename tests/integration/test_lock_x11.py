"""The lock component against real parts: Xvfb, xdotool, i3lock, gsettings and lsblk.

Each test that needs X gets its own Xvfb (display number chosen by Xvfb via -displayfd) and
kills it, and any i3lock, in teardown. Missing tools fail loudly, naming the Debian package.
No private D-Bus session is started: DBUS_SESSION_BUS_ADDRESS points at nothing, so the
D-Bus lockers and the notifier fail fast (as on a desktop without those services) rather
than autolaunching a bus.
"""

from __future__ import annotations

import gc
import os
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format

from agent.lock.backends import build_lock_controller
from agent.lock.controller import LockController
from agent.lock.idle_x11 import X11IdleSource
from agent.lock.policy import PolicyConfig, State
from agent.lock.posture import lock_posture_probe
from agent.lock.posture_linux import GnomeLockSettingsReader
from agent.posture.encryption_linux import LsblkReader
from agent.posture.monitor import PostureMonitor, PostureProbe
from caseguard.v1 import events_pb2
from tests.integration.xvfb import XServer, lockers_running, require
from tests.unit.lock.fakes import RecordingSink

pytestmark = pytest.mark.integration

def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def controllers() -> Iterator[Callable[..., tuple[LockController, RecordingSink]]]:
    made: list[LockController] = []

    def make(server: XServer, timeout_s: float, warn_s: float) -> tuple[LockController, RecordingSink]:
        sink = RecordingSink()
        controller = build_lock_controller(
            sink,
            PolicyConfig(idle_timeout_s=timeout_s, warn_s=warn_s),
            env={"DISPLAY": server.display},
            lock_command=["i3lock", "-n"],
            platform="linux",
            uid=os.getuid(),
            poll_interval_s=0.25,
        )
        made.append(controller)
        return controller, sink

    yield make
    controller = None
    for controller in made:
        controller.stop()
        assert not controller.is_alive()
    assert not [t for t in threading.enumerate() if t.name == "caseguard-lock"]
    # The locker is detached on purpose (it must outlive the agent), so its Popen handle is dropped
    # while i3lock still runs; xserver's teardown kills it. Drop the handles here, where that is expected:
    # every reference, the loop variable's too, or the handle outlives this block and warns later.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"subprocess \d+ is still running", ResourceWarning)
        made.clear()
        del controller
        gc.collect()


def test_x11_idle_clock_resets_on_xdotool_input(xserver: XServer) -> None:
    source = X11IdleSource(xserver.display)
    try:
        time.sleep(1.0)
        before = source.idle_seconds()
        xserver.move_mouse(200, 300)
        after = source.idle_seconds()
    finally:
        source.close()
    assert before >= 0.8
    assert after < 0.5


def test_idle_session_is_locked_by_i3lock_and_confirmed(xserver: XServer, controllers) -> None:
    controller, sink = controllers(xserver, timeout_s=3.0, warn_s=1.0)
    xserver.move_mouse(50, 50)
    started = time.monotonic()
    controller.start()
    wait_for(lambda: sink.of("lock_enforced"), 15.0, "lock_enforced")
    [body] = sink.of("lock_enforced")
    assert body["method"] == "command"
    assert body["idle_timeout_s"] == 3
    assert body["lateness_s"] <= 1.0
    assert 3.0 <= body["idle_seconds"] <= 4.0
    assert time.monotonic() - started >= 3.0
    assert lockers_running(), "i3lock should be running"
    assert controller.state is State.LOCKED
    assert controller.last_lock_at is not None
    assert sink.of("lock_failed") == [] and sink.of("coverage_degraded") == []
    json_format.ParseDict(body, events_pb2.LockEnforced())


def test_mouse_moved_every_second_never_locks(xserver: XServer, controllers) -> None:
    controller, sink = controllers(xserver, timeout_s=3.0, warn_s=1.0)
    controller.start()
    for step in range(7):
        xserver.move_mouse(100 + step, 100)
        time.sleep(1.0)
    assert sink.of("lock_enforced") == []
    assert not lockers_running()
    assert controller.state is State.ACTIVE


def test_input_during_warning_cancels_the_lock(xserver: XServer, controllers) -> None:
    controller, sink = controllers(xserver, timeout_s=4.0, warn_s=2.0)
    xserver.move_mouse(60, 60)
    controller.start()
    wait_for(lambda: controller.state is State.WARNING, 10.0, "the warning")
    xserver.move_mouse(400, 400)
    time.sleep(3.0)  # past the original deadline, short of a new one
    assert sink.of("lock_enforced") == []
    assert not lockers_running()
    assert controller.state in (State.ACTIVE, State.WARNING)


def test_x_server_death_reports_coverage_degraded_and_keeps_running(xserver: XServer, controllers) -> None:
    controller, sink = controllers(xserver, timeout_s=60.0, warn_s=10.0)
    controller.start()
    wait_for(lambda: controller.enforcement_active, 10.0, "the X idle clock")
    assert controller.idle_source_name == "x11-screensaver"
    xserver.kill()
    wait_for(lambda: sink.of("coverage_degraded"), 10.0, "coverage_degraded")
    first = sink.of("coverage_degraded")[0]
    assert first == {
        "component": "idle-clock",
        "reason": "x-server-gone",
        "recovered": False,
        "scope": "x11-screensaver",
    }
    json_format.ParseDict(first, events_pb2.CoverageDegraded())
    time.sleep(1.0)
    assert controller.is_alive()
    assert not controller.enforcement_active
    assert len(sink.of("coverage_degraded")) == 1  # reported once, not every retry


@pytest.fixture
def gsettings_keyfile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """gsettings headless: the keyfile backend under a private XDG_CONFIG_HOME (no D-Bus, no dconf)."""
    require("gsettings")
    monkeypatch.setenv("GSETTINGS_BACKEND", "keyfile")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    schemas = subprocess.run(["gsettings", "list-schemas"], capture_output=True, text=True, check=True).stdout
    if "org.gnome.desktop.session" not in schemas.split():
        pytest.fail("GNOME schemas missing: apt-get install -y gsettings-desktop-schemas", pytrace=False)

    def gset(schema: str, key: str, value: str) -> None:
        subprocess.run(["gsettings", "set", schema, key, value], check=True, timeout=10)

    return gset


def test_real_gsettings_round_trip_and_change_detection(gsettings_keyfile) -> None:
    gset = gsettings_keyfile
    gset("org.gnome.desktop.session", "idle-delay", "900")
    gset("org.gnome.desktop.screensaver", "lock-delay", "30")
    settings = GnomeLockSettingsReader()()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("gnome", 930, True)

    sink = RecordingSink()
    monitor = PostureMonitor(
        sink, [PostureProbe("lock_posture", lock_posture_probe(GnomeLockSettingsReader(), 300), 0)]
    )
    assert monitor.poll_once() == ["lock_posture"]
    body = sink.of("lock_posture")[0]
    assert body["weaker_than_policy"] is True
    assert body["findings"] == ["The OS locks after 930 s idle, later than the policy's 5 min."]
    assert monitor.poll_once() == []  # unchanged: nothing emitted
    gset("org.gnome.desktop.screensaver", "lock-enabled", "false")
    assert monitor.poll_once() == ["lock_posture"]
    changed = sink.of("lock_posture")[1]
    assert changed["os_lock_timeout_s"] == 0 and changed["password_on_wake"] is False
    json_format.ParseDict(changed, events_pb2.LockPosture())


def test_real_lsblk_gives_a_valid_encryption_posture() -> None:
    require("lsblk")
    facts = LsblkReader(home=str(Path.home()))()
    assert facts.details, "lsblk ran but no detail was recorded"
    assert not facts.details[0].startswith("lsblk failed"), facts.details
    json_format.ParseDict(facts.body(), events_pb2.EncryptionPosture())
