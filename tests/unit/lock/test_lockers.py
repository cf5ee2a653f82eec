"""Lockers, lock checks, the Linux/macOS/Windows chains, inhibitors and the notifier, with fakes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from agent.lock.backends import inhibitors_for, lock_chain_for
from agent.lock.inhibitors import LIST_INHIBITORS_ARGV, LogindInhibitors, parse_list_inhibitors
from agent.lock.lockers import CommandLocker, LockChain, LockError, ProcessRunningCheck
from agent.lock.lockers_linux import gdbus_call, linux_lock_chain, parse_gdbus_bool
from agent.lock.lockers_macos import macos_lock_chain, parse_screen_locked
from agent.lock.lockers_windows import LockWorkStationLocker, windows_lock_chain
from agent.lock.notify import Notifier, notify_argv
from agent.posture.commands import CommandResult
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "posture"


class FakeChild:
    def __init__(self, code: int | None, pid: int = 4242) -> None:
        self.code = code
        self.pid = pid
        self.killed = False

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float | None = None) -> int:
        if self.code is None:
            raise subprocess.TimeoutExpired("locker", timeout or 0)
        return self.code

    def kill(self) -> None:
        self.killed = True
        self.code = -9


def test_command_locker_counts_running_or_clean_exit_as_issued():
    spawned = []

    def spawn(argv):
        spawned.append(tuple(argv))
        return FakeChild(None)

    CommandLocker(["i3lock", "-n"], spawn=spawn).lock()
    CommandLocker(["i3lock"], spawn=lambda argv: FakeChild(0)).lock()  # forked and exited 0
    assert spawned == [("i3lock", "-n")]
    with pytest.raises(LockError, match="exited 1"):
        CommandLocker(["i3lock"], spawn=lambda argv: FakeChild(1)).lock()

    def missing(argv):
        raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(LockError, match="No such file"):
        CommandLocker(["nolocker"], spawn=missing).lock()
    with pytest.raises(ValueError):
        CommandLocker([])


def proc(name: str, uid: int, status: str = psutil.STATUS_SLEEPING):
    return SimpleNamespace(info={"name": name, "status": status, "uids": SimpleNamespace(real=uid)})


def test_process_check_matches_name_user_and_ignores_zombies():
    procs = [proc("bash", 1000), proc("i3lock", 1001), proc("i3lock", 1000, psutil.STATUS_ZOMBIE)]
    check = ProcessRunningCheck(["i3lock"], uid=1000, process_iter=lambda attrs: iter(procs))
    assert check.is_locked() is False
    procs.append(proc("i3lock", 1000))
    assert check.is_locked() is True
    long_name = ProcessRunningCheck(
        ["xsecurelock-dimmer"], process_iter=lambda attrs: iter([proc("xsecurelock-dim", 5)])
    )
    assert long_name.is_locked() is True  # Linux comm names are cut to 15 characters


def test_chain_skips_excluded_and_collects_reasons():
    class L:
        def __init__(self, method, ok):
            self.method, self.ok = method, ok

        def lock(self):
            if not self.ok:
                raise LockError("exited 1")

    chain = LockChain([L("a", False), L("b", True), L("c", True)], [])
    first = chain.issue()
    assert (first.method, first.tried, first.reason) == ("b", ("a", "b"), "a: exited 1")
    assert chain.issue(exclude=("a", "b")).method == "c"
    none_left = chain.issue(exclude=("a", "b", "c"))
    assert none_left.method is None and none_left.reason == "no locker left to try"
    assert chain.is_locked() is None


def test_chain_is_locked_any_true_and_survives_a_raising_check():
    def check(name, answer):
        def is_locked():
            if isinstance(answer, Exception):
                raise answer
            return answer

        return SimpleNamespace(name=name, is_locked=is_locked)

    assert LockChain([], [check("x", RuntimeError()), check("a", False), check("b", True)]).is_locked() is True
    assert LockChain([], [check("a", None), check("b", False)]).is_locked() is False


def test_linux_chain_order_and_checks():
    chain = linux_lock_chain(canned_runner({}), command=["i3lock", "-n"], session="3", uid=1000)
    assert chain.methods == ("command", "loginctl", "dbus-freedesktop", "dbus-gnome", "xdg-screensaver")
    assert next(c.name for c in chain.checks) == "process:i3lock"
    assert linux_lock_chain(canned_runner({})).methods[0] == "loginctl"


def test_linux_chain_runs_the_commands_and_reads_logind_and_dbus():
    locked_hint = ("loginctl", "show-session", "3", "-p", "LockedHint")
    gnome_active = gdbus_call("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.GetActive")
    runner = canned_runner(
        {
            ("loginctl", "lock-session", "3"): CommandResult((), 1, "", "Could not lock session: no session"),
            gdbus_call(
                "org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.Lock"
            ): "()\n",
            locked_hint: "LockedHint=no\n",
            gnome_active: "(false,)\n",
        }
    )
    chain = linux_lock_chain(runner, session="3")
    result = chain.issue()
    assert result.method == "dbus-freedesktop"
    assert result.reason == "loginctl: loginctl exited 1: Could not lock session: no session"
    assert chain.is_locked() is False
    assert parse_gdbus_bool("(true,)\n") is True and parse_gdbus_bool("error") is None


def test_macos_chain_and_ioreg_lock_state():
    assert parse_screen_locked((FIXTURES / "ioreg_root_locked.txt").read_text()) is True
    assert parse_screen_locked((FIXTURES / "ioreg_root_unlocked.txt").read_text()) is False
    assert parse_screen_locked("") is None
    runner = canned_runner({("ioreg", "-n", "Root", "-d1"): (FIXTURES / "ioreg_root_locked.txt").read_text()})
    chain = macos_lock_chain(runner)
    assert chain.methods == ("login-framework", "pmset-displaysleepnow", "cgsession-suspend")
    assert chain.is_locked() is True


def test_macos_locks_through_login_framework_and_falls_back_when_it_cannot_load():
    from agent.lock.lockers_macos import LOGIN_FRAMEWORK

    calls = []

    class Framework:
        def __init__(self):
            self.SACLockScreenImmediate = self

        def __call__(self):
            calls.append("SACLockScreenImmediate")
            return 0

    opened = []

    def load(path):
        opened.append(path)
        return Framework()

    runner = canned_runner({("pmset", "displaysleepnow"): ""})
    result = macos_lock_chain(runner, load).issue()
    assert result.method == "login-framework" and calls == ["SACLockScreenImmediate"]
    assert opened == [LOGIN_FRAMEWORK]

    def missing(path):
        raise OSError(f"dlopen({path}): image not found")

    result = macos_lock_chain(runner, missing).issue()
    assert result.method == "pmset-displaysleepnow"  # the next locker in the chain


def test_windows_lockworkstation():
    calls = []

    class User32:
        def __init__(self, ok):
            self.ok = ok

        def LockWorkStation(self):
            calls.append(1)
            return self.ok

    LockWorkStationLocker(User32(1)).lock()
    with pytest.raises(LockError):
        LockWorkStationLocker(User32(0)).lock()
    assert windows_lock_chain(User32(1)).methods == ("LockWorkStation",)
    assert len(calls) == 2


def test_backend_choice_by_platform():
    assert lock_chain_for("win32").methods == ("LockWorkStation",)
    assert lock_chain_for("darwin", canned_runner({})).methods[0] == "login-framework"
    assert lock_chain_for("linux", canned_runner({}), ["i3lock"]).methods[0] == "command"
    assert inhibitors_for("darwin").names() == ()


def test_inhibitors_only_idle_blockers_names_only():
    text = (FIXTURES / "busctl_inhibitors.json").read_text()
    assert parse_list_inhibitors(text) == ("Firefox", "Other User App", "vlc")
    assert parse_list_inhibitors(text, uid=1000) == ("Firefox", "vlc")
    assert parse_list_inhibitors("not json") == ()
    assert LogindInhibitors(canned_runner({LIST_INHIBITORS_ARGV: text}), uid=1000).names() == ("Firefox", "vlc")
    assert LogindInhibitors(canned_runner({})).names() == ()


def test_notifier_never_blocks_never_raises(caplog):
    children = []

    def spawn(argv):
        child = FakeChild(None)
        children.append((tuple(argv), child))
        return child

    notifier = Notifier("linux", spawn=spawn)
    notifier.notify(30)
    argv, child = children[0]
    assert argv[0] == "notify-send" and "30 seconds" in argv[-1]
    child.code = 1  # no notification daemon
    notifier.notify(29)
    assert "exited 1" in caplog.text
    notifier.close()
    assert children[1][1].killed

    def missing(argv):
        raise FileNotFoundError(2, "No such file or directory")

    Notifier("linux", spawn=missing).notify(10)  # logged, not raised
    Notifier("win32", spawn=missing).notify(10)
    darwin = notify_argv("darwin", 5)
    assert darwin is not None and darwin[0] == "osascript"
    windows = notify_argv("win32", 5)  # a toast through Windows PowerShell (the warning used to be missing there)
    assert windows is not None and windows[0] == "powershell.exe"
    assert notify_argv("freebsd13", 5) is None
