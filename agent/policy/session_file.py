"""The lock settings the system agent hands to session components (state_dir/session-policy.json).

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
