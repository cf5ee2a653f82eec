"""Windows lock posture from every source (screen saver, policy, power plan, MDM), fed captured output."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.lock.posture import judge
from agent.lock.posture_windows import (
    CONSOLELOCK,
    DESKTOP_KEY,
    INACTIVITY_KEY,
    MDM_DEVICE_LOCK_KEY,
    POWERCFG_CONSOLELOCK,
    POWERCFG_SLEEP,
    STANDBYIDLE,
    PowerIndex,
    WindowsLockSettingsReader,
    parse_powercfg,
)
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def reader(**answers: str) -> WindowsLockSettingsReader:
    table = {
        "desktop": ("reg", "query", DESKTOP_KEY),
        "inactivity": ("reg", "query", INACTIVITY_KEY),
        "mdm": ("reg", "query", MDM_DEVICE_LOCK_KEY),
        "sleep": POWERCFG_SLEEP,
        "console_lock": POWERCFG_CONSOLELOCK,
    }
    return WindowsLockSettingsReader(canned_runner({table[k]: v for k, v in answers.items()}))


def test_value_names_are_case_insensitive_as_on_real_machines():
    settings = reader(desktop=fixture("reg_desktop_screensavetimeout_lowercase.txt"))()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("windows-screensaver", 600, True)


def test_sleep_with_sign_in_on_wake_locks_and_the_weaker_power_source_counts():
    settings = reader(
        desktop=fixture("reg_desktop_no_saver.txt"),
        sleep=fixture("powercfg_sleep_1800_900.txt"),
        console_lock=fixture("powercfg_consolelock_on.txt"),
    )()
    # 900 s on battery but 1800 s on mains: the laptop on its dock locks only after 30 minutes.
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("windows-power", 1800, True)
    assert judge(settings, 900) == ["The OS locks after 30 min idle, later than the policy's 15 min."]


def test_sleep_without_sign_in_on_wake_is_a_weakness_not_a_lock():
    off = fixture("powercfg_consolelock_on.txt").replace("0x00000001", "0x00000000")
    settings = reader(
        desktop=fixture("reg_desktop_no_saver.txt"), sleep=fixture("powercfg_sleep_1800_900.txt"), console_lock=off
    )()
    assert settings.timeout_s == 0 and settings.password_on_wake is False
    assert "The power plan wakes from sleep without asking for sign-in." in judge(settings, 900)


def test_a_plan_that_never_sleeps_on_mains_does_not_lock_localised_output_too():
    settings = reader(
        desktop=fixture("reg_desktop_no_saver.txt"),
        sleep=fixture("powercfg_sleep_japanese.txt"),
        console_lock=fixture("powercfg_consolelock_on.txt"),
    )()
    assert settings.timeout_s == 0


def test_mdm_device_lock_counts_and_the_earliest_lock_wins():
    settings = reader(
        desktop=fixture("reg_desktop_secure_600.txt"),
        inactivity=fixture("reg_system_inactivity_900.txt"),
        mdm=fixture("reg_mdm_devicelock_5min.txt"),
    )()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("windows-mdm", 300, True)


@pytest.mark.parametrize(
    ("name", "guid", "expected"),
    [
        ("powercfg_sleep_1800_900.txt", STANDBYIDLE, PowerIndex(1800, 900)),
        ("powercfg_sleep_1800_900.txt", "9d7815a6-7ee4-497e-8888-515a05f02364", PowerIndex(21600, 21600)),
        ("powercfg_consolelock_on.txt", CONSOLELOCK, PowerIndex(1, 1)),
        ("powercfg_sleep_japanese.txt", STANDBYIDLE, PowerIndex(0, 900)),
        ("powercfg_high_performance_disk.txt", "6738e2c4-e8a5-4a42-b16a-e040e769756e", PowerIndex(0, 1200)),
        ("powercfg_high_performance_disk.txt", "4c793e7d-a264-42e1-87d3-7a0d2f523ccd", PowerIndex(1, None)),
    ],
)
def test_powercfg_parsing_by_guid_in_any_language(name, guid, expected):
    assert parse_powercfg(fixture(name))[guid] == expected


def test_no_sleep_setting_in_the_output_means_unknown_power_not_never():
    assert STANDBYIDLE not in parse_powercfg(fixture("powercfg_high_performance_disk.txt"))
    settings = reader(sleep=fixture("powercfg_high_performance_disk.txt"))()
    assert settings.timeout_s == 0 or settings.timeout_s is None
