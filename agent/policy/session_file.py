"""What the system agent hands to session components: the lock settings (state_dir/session-policy.json)
and, while the collector reports the device lost, the lockdown (state_dir/lockdown.json).

Kept apart from the policy applier so the session component, which only reads this file,
does not load the transport (gRPC) or the certificate code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.atomic_files import write_atomically
from agent.config import AgentConfig

SESSION_POLICY_FILE = "session-policy.json"
LOCKDOWN_FILE = "lockdown.json"


def write_session_policy(config: AgentConfig, version: int) -> None:
    """The lock settings session components must enforce (they re-read this file when it changes)."""
    lk = config.lock
    body = {"version": version, "idle_timeout_s": lk.idle_timeout_s, "warn_s": lk.warn_s,
            "allow_inhibitors": lk.allow_inhibitors}
    write_atomically(config.state_dir / SESSION_POLICY_FILE, json.dumps(body).encode(), 0o644)


def read_session_policy(state_dir: Path) -> dict[str, Any] | None:
    """What write_session_policy wrote, or None."""
    try:
        data = json.loads((state_dir / SESSION_POLICY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_lockdown(state_dir: Path, since: str) -> None:
    """The device is reported lost: session components lock now and at every sign-in until it is removed.

    The file outlives restarts, so a lost laptop that is switched on away from any network stays
    locked down; only the collector's word that IT found it (``clear_lockdown``) ends it.
    """
    body = {"reason": "reported lost", "since": since}
    write_atomically(state_dir / LOCKDOWN_FILE, json.dumps(body).encode(), 0o644)


def clear_lockdown(state_dir: Path) -> None:
    """IT recorded the device found: the lockdown ends."""
    (state_dir / LOCKDOWN_FILE).unlink(missing_ok=True)


def read_lockdown(state_dir: Path) -> bool:
    """Whether a lockdown is in force. A file that cannot be read but exists counts as one (fail closed)."""
    path = state_dir / LOCKDOWN_FILE
    try:
        return path.exists()
    except OSError:
        return True
