"""Lock posture: the OS's own lock timeout and password-on-wake, judged against the policy.

Per-OS readers (``posture_linux`` for GNOME and KDE, ``posture_windows``,
``posture_macos``) turn settings into ``OsLockSettings``; ``lock_posture_body`` judges them
against the policy timeout and adds the agent's own enforcement and the inhibitors.
``lock_posture_probe`` joins the two for ``agent.posture.monitor.PostureMonitor``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agent.posture.commands import CommandRunner, run_command


@dataclass(frozen=True)
class OsLockSettings:
    """What one OS settings source says.

    ``timeout_s``: seconds of idleness after which the OS itself locks; 0 means it never
    does; None means it could not be read. ``password_on_wake`` likewise, None if unknown.
    ``never_reason`` says why it never locks (named setting); ``weaknesses`` are further
    plain-English weaknesses the source found (e.g. no lock on resume).
    """

    source: str
    timeout_s: int | None
    password_on_wake: bool | None
    never_reason: str = ""
    weaknesses: tuple[str, ...] = ()


def describe_seconds(seconds: float) -> str:
    """``300`` -> ``5 min``, ``90`` -> ``90 s``, ``3600`` -> ``60 min``."""
    seconds = round(seconds)
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def judge(settings: OsLockSettings, policy_idle_timeout_s: float) -> list[str]:
    """Plain-English reasons the OS settings are weaker than the policy (empty: not weaker).

    Unknown values are not counted as weaker; ``*_known`` in the body shows them.
    """
    findings: list[str] = []
    if settings.timeout_s == 0:
        why = f" ({settings.never_reason})" if settings.never_reason else ""
        findings.append(f"The screen never locks by itself{why}.")
    elif settings.timeout_s is not None and settings.timeout_s > policy_idle_timeout_s:
        findings.append(
            f"The OS locks after {describe_seconds(settings.timeout_s)} idle, "
            f"later than the policy's {describe_seconds(policy_idle_timeout_s)}."
        )
    if settings.password_on_wake is False:
        findings.append("No password is needed to wake the screen.")
    findings.extend(settings.weaknesses)
    return findings


def lock_posture_body(
    settings: OsLockSettings,
    policy_idle_timeout_s: float,
    enforced_by_agent: bool = False,
    inhibitors: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The ``lock_posture`` event body."""
    findings = judge(settings, policy_idle_timeout_s)
    return {
        "os_lock_timeout_s": settings.timeout_s or 0,
        "os_lock_timeout_known": settings.timeout_s is not None,
        "password_on_wake": bool(settings.password_on_wake),
        "password_on_wake_known": settings.password_on_wake is not None,
        "source": settings.source,
        "policy_idle_timeout_s": round(policy_idle_timeout_s),
        "weaker_than_policy": bool(findings),
        "findings": findings,
        "enforced_by_agent": enforced_by_agent,
        "inhibitors": list(inhibitors),
    }


class EnforcementView(Protocol):
    """What lock posture reads from the running ``LockController``."""

    @property
    def enforcement_active(self) -> bool:
        """Whether the agent's own idle lock is enforcing."""
        ...

    @property
    def inhibitors(self) -> tuple[str, ...]:
        """Idle-inhibitor holders."""
        ...


SettingsReader = Callable[[], OsLockSettings]


def lock_posture_probe(
    read_settings: SettingsReader,
    policy_idle_timeout_s: float,
    enforcement: EnforcementView | None = None,
) -> Callable[[], dict[str, Any]]:
    """A ``PostureProbe.read`` for ``lock_posture``: OS settings plus the agent's enforcement."""

    def read() -> dict[str, Any]:
        active = enforcement.enforcement_active if enforcement is not None else False
        inhibitors = enforcement.inhibitors if enforcement is not None else ()
        return lock_posture_body(read_settings(), policy_idle_timeout_s, active, inhibitors)

    return read


def lock_settings_reader(
    env: Mapping[str, str],
    platform: str = sys.platform,
    runner: CommandRunner = run_command,
    home: str = "",
) -> SettingsReader:
    """The settings reader for this platform and desktop, chosen once.

    Linux: KDE when XDG_CURRENT_DESKTOP names KDE; GNOME for GNOME/Unity/ubuntu; Cinnamon
    (X-Cinnamon), MATE and XFCE by their names; otherwise an "unknown" reader (i3, sway, ...).
    """
    if platform.startswith("win"):
        from agent.lock.posture_windows import WindowsLockSettingsReader

        return WindowsLockSettingsReader(runner)
    if platform == "darwin":
        from agent.lock.posture_macos import MacLockSettingsReader

        return MacLockSettingsReader(runner)
    from agent.lock.posture_linux import (
        CINNAMON,
        MATE,
        GnomeLockSettingsReader,
        KdeLockSettingsReader,
        XfceLockSettingsReader,
        unknown_desktop,
    )

    desktops = {d.strip().lower() for d in env.get("XDG_CURRENT_DESKTOP", "").split(":") if d.strip()}
    if "kde" in desktops:
        return KdeLockSettingsReader(home or "/nonexistent")
    if desktops & {"x-cinnamon", "cinnamon"}:
        return GnomeLockSettingsReader(runner, CINNAMON)
    if "mate" in desktops:
        return GnomeLockSettingsReader(runner, MATE)
    if "xfce" in desktops:
        return XfceLockSettingsReader(runner)
    if desktops & {"gnome", "unity", "ubuntu", "gnome-classic"}:
        return GnomeLockSettingsReader(runner)
    return unknown_desktop("/".join(sorted(desktops)) or "unknown")
