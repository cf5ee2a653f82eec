"""Lock posture: every settings fixture parsed and judged against the policy timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from agent.lock.posture import (
    OsLockSettings,
    describe_seconds,
    judge,
    lock_posture_body,
    lock_posture_probe,
    lock_settings_reader,
)
from agent.lock.posture_linux import (
    GnomeLockSettingsReader,
    KdeLockSettingsReader,
    kde_settings,
    parse_gsettings_value,
)
from agent.lock.posture_macos import (
    MacLockSettingsReader,
    macos_settings,
    parse_displaysleep_minutes,
    parse_screen_lock,
)
from agent.lock.posture_windows import (
    DESKTOP_KEY,
    DESKTOP_POLICY_KEY,
    INACTIVITY_KEY,
    WindowsLockSettingsReader,
    parse_reg_query,
)
from agent.posture.commands import CommandResult
from caseguard.v1 import events_pb2
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def gsettings_runner(name: str):
    """Answer ``gsettings get SCHEMA KEY`` from a list-recursively style fixture."""
    answers: dict[tuple[str, ...], str] = {}
    for line in fixture(name).splitlines():
        schema, key, value = line.split(" ", 2)
        answers[("gsettings", "get", schema, key)] = value + "\n"
    return canned_runner(answers)


@pytest.mark.parametrize(
    ("name", "timeout", "password", "weaker"),
    [
        ("gsettings_gnome_default.txt", 300, True, False),
        ("gsettings_gnome_15min_delay.txt", 960, True, True),
        ("gsettings_gnome_lock_disabled.txt", 0, False, True),
        ("gsettings_gnome_never_blank.txt", 0, True, True),
        ("gsettings_gnome_lockdown.txt", 0, False, True),
    ],
)
def test_gnome(name, timeout, password, weaker):
    settings = GnomeLockSettingsReader(gsettings_runner(name))()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("gnome", timeout, password)
    body = lock_posture_body(settings, 300)
    assert body["weaker_than_policy"] is weaker
    assert bool(body["findings"]) is weaker


def test_gnome_without_gsettings_is_unknown_not_weaker():
    settings = GnomeLockSettingsReader(canned_runner({}))()
    body = lock_posture_body(settings, 300)
    assert body["os_lock_timeout_known"] is False and body["password_on_wake_known"] is False
    assert body["weaker_than_policy"] is False


def test_gsettings_values():
    assert parse_gsettings_value("uint32 300\n") == 300
    assert parse_gsettings_value("true") is True
    assert parse_gsettings_value("'hello'") is None


@pytest.mark.parametrize(
    ("name", "timeout", "password", "findings"),
    [
        ("kscreenlockerrc_defaults", 305, True, 0),
        ("kscreenlockerrc_5min", 300, True, 0),
        ("kscreenlockerrc_15min_no_resume", 930, True, 2),
        ("kscreenlockerrc_autolock_off", 0, True, 1),
    ],
)
def test_kde(name, timeout, password, findings):
    settings = kde_settings(fixture(name))
    assert (settings.timeout_s, settings.password_on_wake) == (timeout, password)
    assert len(judge(settings, 305)) == findings


def test_kde_reader_reads_from_home_and_missing_file_means_defaults(tmp_path):
    assert KdeLockSettingsReader(str(tmp_path))().timeout_s == 305
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "kscreenlockerrc").write_text(fixture("kscreenlockerrc_autolock_off"))
    settings = KdeLockSettingsReader(str(tmp_path))()
    assert settings.timeout_s == 0 and settings.never_reason == "KDE Autolock is off"


def windows_runner(inactivity: str, desktop: str, policy: str | None = None):
    not_found = CommandResult((), 1, "", fixture("reg_not_found.txt"))
    return canned_runner(
        {
            ("reg", "query", INACTIVITY_KEY): fixture(inactivity),
            ("reg", "query", DESKTOP_KEY): fixture(desktop),
            ("reg", "query", DESKTOP_POLICY_KEY): fixture(policy) if policy else not_found,
        }
    )


@pytest.mark.parametrize(
    ("inactivity", "desktop", "policy", "expected"),
    [
        ("reg_system_inactivity_900.txt", "reg_desktop_no_saver.txt", None, ("windows-policy", 900, True)),
        ("reg_system_inactivity_900.txt", "reg_desktop_secure_600.txt", None, ("windows-screensaver", 600, True)),
        ("reg_system_no_inactivity.txt", "reg_desktop_secure_600.txt", None, ("windows-screensaver", 600, True)),
        ("reg_system_no_inactivity.txt", "reg_desktop_insecure_300.txt", None, ("windows-screensaver", 0, False)),
        ("reg_system_no_inactivity.txt", "reg_desktop_no_saver.txt", None, ("windows-policy", 0, None)),
        (
            "reg_system_no_inactivity.txt",
            "reg_desktop_insecure_300.txt",
            "reg_desktop_policy_1200.txt",
            ("windows-screensaver", 1200, True),
        ),
    ],
)
def test_windows(inactivity, desktop, policy, expected):
    settings = WindowsLockSettingsReader(windows_runner(inactivity, desktop, policy))()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == expected


def test_reg_query_parsing():
    values = parse_reg_query(fixture("reg_desktop_secure_600.txt"))
    assert values["Pattern Upgrade"] == "TRUE"  # names with spaces
    assert values["SCRNSAVE.EXE"].endswith("scrnsave.scr")
    assert parse_reg_query(fixture("reg_system_inactivity_900.txt"))["InactivityTimeoutSecs"] == "900"
    assert parse_reg_query(fixture("reg_not_found.txt")) == {}


def test_windows_unreadable_is_unknown():
    settings = WindowsLockSettingsReader(canned_runner({}))()
    assert settings.timeout_s is None and settings.password_on_wake is None


@pytest.mark.parametrize(
    ("sysadminctl", "saver", "expected"),
    [
        ("sysadminctl_immediate.txt", "300", (300, True)),  # saver 5 min, display sleep 10 min
        ("sysadminctl_300.txt", "1200", (900, True)),  # display sleep 10 min first, +300 s delay
        ("sysadminctl_off.txt", "300", (0, False)),
        ("sysadminctl_immediate.txt", None, (600, True)),  # no saver idleTime: display sleep
    ],
)
def test_macos(sysadminctl, saver, expected):
    saver_argv = ("defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime")
    answers: dict = {
        ("sysadminctl", "-screenLock", "status"): CommandResult((), 0, "", fixture(sysadminctl)),
        ("pmset", "-g"): fixture("pmset_g.txt"),
    }
    if saver is not None:
        answers[saver_argv] = saver + "\n"
    settings = MacLockSettingsReader(canned_runner(answers))()
    assert (settings.timeout_s, settings.password_on_wake) == expected


def test_macos_parsers():
    assert parse_screen_lock(fixture("sysadminctl_300.txt")) == 300
    assert parse_screen_lock(fixture("sysadminctl_off.txt")) == -1
    assert parse_screen_lock("garbage") is None
    assert parse_displaysleep_minutes(fixture("pmset_g.txt")) == 10
    assert macos_settings(0, 0, 0).timeout_s == 0
    assert macos_settings(None, 300, 10).timeout_s is None


def test_findings_are_plain_english():
    assert judge(OsLockSettings("gnome", 960, True), 300) == [
        "The OS locks after 16 min idle, later than the policy's 5 min."
    ]
    assert judge(OsLockSettings("kde", 0, False, "KDE Autolock is off"), 300) == [
        "The screen never locks by itself (KDE Autolock is off).",
        "No password is needed to wake the screen.",
    ]
    assert describe_seconds(90) == "90 s"


@given(
    timeout=st.one_of(st.none(), st.integers(0, 100_000)),
    password=st.one_of(st.none(), st.booleans()),
    policy=st.integers(1, 10_000),
)
def test_body_is_a_valid_lock_posture_and_weaker_matches_rule(timeout, password, policy):
    body = lock_posture_body(OsLockSettings("gnome", timeout, password), policy, True, ("vlc",))
    json_format.ParseDict(body, events_pb2.LockPosture())
    expected = (timeout is not None and (timeout == 0 or timeout > policy)) or password is False
    assert body["weaker_than_policy"] is expected


def test_probe_adds_agent_enforcement_and_inhibitors():
    class Controller:
        enforcement_active = True
        inhibitors = ("Firefox",)

    read = lock_posture_probe(lambda: OsLockSettings("gnome", 300, True), 300, Controller())
    body = read()
    assert body["enforced_by_agent"] is True and body["inhibitors"] == ["Firefox"]
    assert lock_posture_probe(lambda: OsLockSettings("gnome", 300, True), 300)()["enforced_by_agent"] is False


def test_settings_reader_choice():
    assert isinstance(lock_settings_reader({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "linux"), GnomeLockSettingsReader)
    assert isinstance(lock_settings_reader({"XDG_CURRENT_DESKTOP": "KDE"}, "linux", home="/h"), KdeLockSettingsReader)
    assert lock_settings_reader({"XDG_CURRENT_DESKTOP": "i3"}, "linux")().source == "linux-i3"
    assert isinstance(lock_settings_reader({}, "win32"), WindowsLockSettingsReader)
    assert isinstance(lock_settings_reader({}, "darwin"), MacLockSettingsReader)
