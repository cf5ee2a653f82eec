"""KDE's system-wide config layered under the user's, and Cinnamon, MATE and XFCE lock settings."""

from __future__ import annotations

from pathlib import Path

from agent.lock.posture import judge, lock_settings_reader
from agent.lock.posture_linux import (
    CINNAMON,
    MATE,
    GnomeLockSettingsReader,
    KdeLockSettingsReader,
    XfceLockSettingsReader,
    gnome_settings,
    xfce_settings,
)
from tests.unit.lock.fakes import canned_runner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "posture"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def kde(tmp_path: Path, system: str | None, user: str | None):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    if user:
        (home / ".config" / "kscreenlockerrc").write_text(fixture(user))
    system_path = tmp_path / "xdg" / "kscreenlockerrc"
    if system:
        system_path.parent.mkdir()
        system_path.write_text(fixture(system))
    return KdeLockSettingsReader(str(home), system_path=str(system_path))()


def test_a_system_wide_kde_config_that_disables_locking_is_seen(tmp_path: Path):
    settings = kde(tmp_path, "kscreenlockerrc_xdg_kiosk_lock_off", None)
    assert settings.timeout_s == 0 and settings.never_reason == "KDE Autolock is off"
    assert "The screen is not locked when the computer wakes from sleep." in judge(settings, 300)


def test_kiosk_locked_keys_beat_the_user_and_the_rest_is_the_users(tmp_path: Path):
    # The user switched Autolock off and set Timeout=5: Autolock is immutable, Timeout is not.
    settings = kde(tmp_path, "kscreenlockerrc_xdg_hardening", "kscreenlockerrc_autolock_off")
    assert (settings.timeout_s, settings.password_on_wake) == (300, True)
    assert kde(tmp_path / "b", "kscreenlockerrc_xdg_hardening", None).timeout_s == 15 * 60


def test_the_users_file_still_overrides_a_system_file_without_kiosk_markers(tmp_path: Path):
    (tmp_path / "sys").write_text("[Daemon]\nTimeout=30\n")
    home = tmp_path / "h"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "kscreenlockerrc").write_text("[Daemon]\nTimeout=2\n")
    assert KdeLockSettingsReader(str(home), system_path=str(tmp_path / "sys"))().timeout_s == 2 * 60 + 5


def gsettings_runner(name: str):
    answers: dict[tuple[str, ...], str] = {}
    for line in fixture(name).splitlines():
        if line and not line.startswith("#"):
            schema, key, value = line.split(" ", 2)
            answers[("gsettings", "get", schema, key)] = value + "\n"
    return canned_runner(answers)


def test_cinnamon_reads_its_own_schemas():
    settings = GnomeLockSettingsReader(gsettings_runner("gsettings_cinnamon_5min_30s.txt"), CINNAMON)()
    assert (settings.source, settings.timeout_s, settings.password_on_wake) == ("cinnamon", 330, True)
    chosen = lock_settings_reader({"XDG_CURRENT_DESKTOP": "X-Cinnamon"}, "linux", gsettings_runner(
        "gsettings_cinnamon_5min_30s.txt"))
    assert chosen().timeout_s == 330


def test_mate_delays_are_minutes():
    assert gnome_settings(10, True, 1, False, MATE).timeout_s == 11 * 60
    assert gnome_settings(10, False, 1, False, MATE).never_reason == "MATE screensaver lock-enabled is false"
    assert isinstance(lock_settings_reader({"XDG_CURRENT_DESKTOP": "MATE"}, "linux"), GnomeLockSettingsReader)


def test_xfce_screensaver_properties_and_defaults():
    assert xfce_settings({}).timeout_s == 5 * 60  # xfce4-screensaver's defaults lock after 5 minutes
    assert xfce_settings({"/lock/enabled": False}).timeout_s == 0
    runner = canned_runner({
        ("xfconf-query", "-c", "xfce4-screensaver", "-p", "/saver/idle-activation/delay"): "20\n",
        ("xfconf-query", "-c", "xfce4-screensaver", "-p", "/lock/saver-activation/delay"): "2\n",
        ("xfconf-query", "-c", "xfce4-screensaver", "-p", "/saver/enabled"): "true\n",
        ("xfconf-query", "-c", "xfce4-screensaver", "-p", "/lock/enabled"): "true\n",
    })
    assert XfceLockSettingsReader(runner)().timeout_s == 22 * 60
    assert XfceLockSettingsReader(canned_runner({}))().timeout_s is None  # no xfconf-query: unknown
    assert isinstance(lock_settings_reader({"XDG_CURRENT_DESKTOP": "XFCE"}, "linux"), XfceLockSettingsReader)
