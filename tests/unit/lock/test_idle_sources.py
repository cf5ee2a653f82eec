"""Idle clocks with their OS calls replaced by fakes handed to their constructors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.lock.idle import IdleClockLost, IdleSourceCandidate, idle_candidates, open_first_idle_source
from agent.lock.idle_activity import ActivityIdleSource
from agent.lock.idle_logind import LogindIdleSource, idle_from_props, parse_show_session
from agent.lock.idle_macos import IOREG_ARGV, MacIdleSource, parse_hid_idle_seconds
from agent.lock.idle_windows import WindowsIdleSource, idle_ms
from agent.lock.idle_x11 import X11IdleSource
from tests.unit.lock.fakes import FakeClock, FakeIdleSource, canned_runner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "posture"


class FakeListener:
    def __init__(self, callback) -> None:
        self.callback = callback
        self.alive = False
        self.stopped = False

    def start(self) -> None:
        self.alive = True

    def stop(self) -> None:
        self.stopped = True
        self.alive = False

    def is_alive(self) -> bool:
        return self.alive


def test_activity_source_records_only_that_input_happened_and_supervises_listeners():
    clock = FakeClock()
    made: list[FakeListener] = []

    def factory(on_activity):
        made.extend([FakeListener(on_activity), FakeListener(on_activity)])
        return made

    source = ActivityIdleSource(factory, clock)
    clock.advance(7)
    assert source.idle_seconds() == 7
    made[1].callback("KeyCode(char='s')")  # the key is passed in and ignored
    assert not any("s" in repr(v) for v in vars(source).values() if isinstance(v, str))
    clock.advance(2)
    assert source.idle_seconds() == 2
    made[0].alive = False  # the X server went away: pynput's thread died silently
    with pytest.raises(IdleClockLost) as lost:
        source.idle_seconds()
    assert lost.value.reason == "listener-died"
    assert all(listener.stopped for listener in made)


class FakeInfo:
    def __init__(self, idle: int) -> None:
        self.idle = idle


class FakeDisplay:
    def __init__(self, has_ext: bool = True) -> None:
        self.has_ext = has_ext
        self.idle_ms = 1500
        self.dead = False
        self.closed = False
        display = self

        class Root:
            def screensaver_query_info(self):
                if display.dead:
                    raise ConnectionResetError("gone")
                return FakeInfo(display.idle_ms)

        class Screen:
            root = Root()

        self._screen = Screen()

    def has_extension(self, name: str) -> bool:
        return self.has_ext and name == "MIT-SCREEN-SAVER"

    def screen(self):
        return self._screen

    def close(self) -> None:
        if self.dead:
            raise BrokenPipeError
        self.closed = True


def test_x11_source_reads_ms_and_reports_server_gone():
    display = FakeDisplay()
    source = X11IdleSource(":9", open_display=lambda name: display)
    assert source.idle_seconds() == 1.5
    display.dead = True
    with pytest.raises(IdleClockLost) as lost:
        source.idle_seconds()
    assert lost.value.reason == "x-server-gone"
    source.close()  # closing a dead display is harmless


def test_x11_source_without_display_or_extension_is_unavailable():
    def refuse(name):
        raise OSError("cannot connect")

    with pytest.raises(IdleClockLost, match="no-x-display"):
        X11IdleSource(":9", open_display=refuse)
    display = FakeDisplay(has_ext=False)
    with pytest.raises(IdleClockLost, match="no-screensaver-extension"):
        X11IdleSource(":9", open_display=lambda name: display)
    assert display.closed


def test_logind_idle_hint():
    props = parse_show_session((FIXTURES / "loginctl_show_session_idle.txt").read_text())
    assert idle_from_props(props, monotonic_now=1030.0) == pytest.approx(30.0)
    assert idle_from_props({"IdleHint": "no", "IdleSinceHintMonotonic": "5"}, 1030.0) == 0.0
    argv = ("loginctl", "show-session", "7", "-p", "IdleHint", "-p", "IdleSinceHintMonotonic")
    runner = canned_runner({argv: "IdleHint=yes\nIdleSinceHintMonotonic=2000000\n"})
    source = LogindIdleSource(runner, session="7", clock=lambda: 12.0)
    assert source.idle_seconds() == pytest.approx(10.0)
    with pytest.raises(IdleClockLost, match="logind-unavailable"):
        LogindIdleSource(canned_runner({}), session="7")


def test_macos_hid_idle_time_from_ioreg_fixture():
    text = (FIXTURES / "ioreg_hidsystem.txt").read_text()
    assert parse_hid_idle_seconds(text) == pytest.approx(4.523817458)
    assert parse_hid_idle_seconds("nothing here") is None
    assert MacIdleSource(canned_runner({IOREG_ARGV: text})).idle_seconds() == pytest.approx(4.52, abs=0.01)
    with pytest.raises(IdleClockLost):
        MacIdleSource(canned_runner({})).idle_seconds()


def test_windows_tick_arithmetic_survives_the_49_day_wrap():
    assert idle_ms(5000, 2000) == 3000
    assert idle_ms(100, 0xFFFFFF00) == 356

    class User32:
        def GetLastInputInfo(self, ref) -> int:
            ref._obj.dwTime = 1000
            return 1

    class Kernel32:
        def GetTickCount(self) -> int:
            return 4500

    assert WindowsIdleSource(User32(), Kernel32()).idle_seconds() == 3.5


def test_candidates_by_session_type():
    names = [c.name for c in idle_candidates({"DISPLAY": ":0"}, "linux")]
    assert names == ["x11-screensaver", "pynput-activity", "logind-idlehint"]
    wayland = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert next(c.name for c in idle_candidates(wayland, "linux")) == "logind-idlehint"
    assert [c.name for c in idle_candidates({}, "linux")] == ["logind-idlehint"]
    assert [c.name for c in idle_candidates({}, "win32")] == ["windows-lastinput"]
    assert [c.name for c in idle_candidates({}, "darwin")] == ["macos-hididle"]


def test_open_first_skips_unavailable_and_broken_sources(caplog):
    clock = FakeClock()
    broken = FakeIdleSource("pynput-activity", clock)
    broken.lose("listener-died")
    good = FakeIdleSource("logind-idlehint", clock)

    def unavailable():
        raise IdleClockLost("no-x-display")

    chosen = open_first_idle_source(
        [
            IdleSourceCandidate("x11-screensaver", unavailable),
            IdleSourceCandidate("pynput-activity", lambda: broken),
            IdleSourceCandidate("logind-idlehint", lambda: good),
        ]
    )
    assert chosen is good
    assert broken.closed
    assert "using fallback idle clock logind-idlehint" in caplog.text
    assert open_first_idle_source([IdleSourceCandidate("x", unavailable)]) is None
