"""The posture part of the heartbeat, from the latest posture bodies and the lock controller."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agent.posture.encryption import UNKNOWN, overall_state


def posture_summary(
    lock_posture: Mapping[str, Any] | None,
    encryption_posture: Mapping[str, Any] | None,
    lock_enforced_by_agent: bool,
    last_lock_at: datetime | None,
) -> dict[str, Any]:
    """PostureSummary fields this package knows (the runtime adds policy_version and the index count)."""
    summary: dict[str, Any] = {
        "encryption": UNKNOWN,
        "lock_enforced_by_agent": lock_enforced_by_agent,
        "os_lock_timeout_s": 0,
        "password_on_wake": False,
    }
    if encryption_posture is not None:
        summary["encryption"] = overall_state(
            str(encryption_posture.get("system_volume", UNKNOWN)), str(encryption_posture.get("home_volume", UNKNOWN))
        )
    if lock_posture is not None:
        summary["os_lock_timeout_s"] = int(lock_posture.get("os_lock_timeout_s", 0))
        summary["password_on_wake"] = bool(lock_posture.get("password_on_wake", False))
    if last_lock_at is not None:
        summary["last_lock_at"] = last_lock_at.isoformat().replace("+00:00", "Z")
    return summary
