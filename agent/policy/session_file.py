"""What the system agent hands to session components, in state_dir/session/: the lock settings
(session-policy.json), while the collector reports the device lost, the lockdown
(lockdown.json), and the notices to show the person at the laptop now (session-notices.json).

The rest of state_dir (outbox, keys' neighbours, the protected index) is the system agent's
alone; this one folder is readable by every user, because session components run as each
user. The agent makes it 0755 and its files 0644 whatever its umask; on Windows the installer
gives Users read access to it (inherited by the files). State_dir itself must let users pass
through (0711 on Linux and macOS) without letting them list it.

Kept apart from the policy applier so the session component, which only reads this file,
does not load the transport (gRPC) or the certificate code.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.atomic_files import write_atomically
from agent.config import AgentConfig

HANDOFF_DIR = "session"
SESSION_POLICY_FILE = "session-policy.json"
LOCKDOWN_FILE = "lockdown.json"
NOTICES_FILE = "session-notices.json"
# The file keeps the latest few: a session component polls every couple of seconds, so only a
# component that was not running misses one, and an old notice is not worth showing anyway.
MAX_NOTICES = 20
_notices_lock = threading.Lock()  # classifier threads post concurrently


def handoff_dir(state_dir: Path) -> Path:
    """The folder of state_dir that session components read."""
    return state_dir / HANDOFF_DIR


def _handoff(state_dir: Path) -> Path:
    """The handoff folder, made and opened to every user (the system agent's side)."""
    folder = handoff_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o755)
    return folder


def prepare_handoff(state_dir: Path) -> bool:
    """At the system agent's start: the handoff folder exists, users may pass through state_dir to it
    (on POSIX, its execute bits; never its read bits, so it cannot be listed), and files an earlier
    version left at the top of state_dir, where no session could read them, are moved in.
    True when state_dir's mode had to be opened (an install made before the folder existed)."""
    folder = _handoff(state_dir)
    opened = False
    if os.name == "posix":
        mode = stat.S_IMODE(os.stat(state_dir).st_mode)
        if mode & 0o011 != 0o011:
            os.chmod(state_dir, mode | 0o011)
            opened = True
    for name in (SESSION_POLICY_FILE, LOCKDOWN_FILE, NOTICES_FILE):
        old = state_dir / name
        if old.exists():
            os.replace(old, folder / name)
    return opened


def handoff_problem(state_dir: Path) -> str:
    """Why this process cannot read the handoff folder ("" when it can): a deployment error.

    Tried for real (stat, then a listing), not with ``os.access``, which on Windows only looks
    at the read-only flag.
    """
    folder = handoff_dir(state_dir)
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            return "missing"
        with os.scandir(folder) as entries:
            next(entries, None)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except PermissionError:
        return "permission-denied"
    except OSError:
        return "io-error"
    return ""


def write_session_policy(config: AgentConfig, version: int) -> None:
    """The lock settings session components must enforce (they re-read this file when it changes)."""
    lk = config.lock
    body = {"version": version, "idle_timeout_s": lk.idle_timeout_s, "warn_s": lk.warn_s,
            "allow_inhibitors": lk.allow_inhibitors}
    write_atomically(_handoff(config.state_dir) / SESSION_POLICY_FILE, json.dumps(body).encode(), 0o644)


def read_session_policy(state_dir: Path) -> dict[str, Any] | None:
    """What write_session_policy wrote, or None."""
    try:
        data = json.loads((handoff_dir(state_dir) / SESSION_POLICY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_lockdown(state_dir: Path, since: str) -> None:
    """The device is reported lost: session components lock now and at every sign-in until it is removed.

    The file outlives restarts, so a lost laptop that is switched on away from any network stays
    locked down; only the collector's word that IT found it (``clear_lockdown``) ends it.
    """
    body = {"reason": "reported lost", "since": since}
    write_atomically(_handoff(state_dir) / LOCKDOWN_FILE, json.dumps(body).encode(), 0o644)


def clear_lockdown(state_dir: Path) -> None:
    """IT recorded the device found: the lockdown ends."""
    (handoff_dir(state_dir) / LOCKDOWN_FILE).unlink(missing_ok=True)


def read_lockdown(state_dir: Path) -> bool:
    """Whether a lockdown is in force (the file exists; its content does not matter).

    A folder this process cannot look into counts as one (fail closed): the session
    component checks ``handoff_problem`` first and reports that as lost coverage.
    """
    path = handoff_dir(state_dir) / LOCKDOWN_FILE
    try:
        os.stat(path)  # not Path.exists: newer Pythons answer False for a folder they may not enter
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def post_notice(state_dir: Path, title: str, text: str, at: float, for_uid: int | None = None) -> int:
    """Add a notice for session components to show (``at``: wall-clock seconds); its number.

    ``for_uid``: only that person's sessions show it (the owner of the destination); None: every
    session (Windows, where files carry no uid, or a destination root or no one owns).
    """
    with _notices_lock:
        notices = read_notices(state_dir) or []  # an unreadable file is replaced
        number = max((int(n["id"]) for n in notices), default=0) + 1
        notice: dict[str, Any] = {"id": number, "at": at, "title": title, "text": text}
        if for_uid is not None:
            notice["uid"] = for_uid
        notices = [*notices, notice][-MAX_NOTICES:]
        write_atomically(_handoff(state_dir) / NOTICES_FILE, json.dumps({"notices": notices}).encode(), 0o644)
        return number


def read_notices(state_dir: Path) -> list[dict[str, Any]] | None:
    """The notices posted, oldest first; [] if none were, None if the file cannot be read now
    (the caller then keeps what it knew rather than taking it for a reset)."""
    try:
        data = json.loads((handoff_dir(state_dir) / NOTICES_FILE).read_text(encoding="utf-8"))
        notices = data["notices"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(notices, list):
        return None
    return [
        n for n in notices
        if isinstance(n, dict) and isinstance(n.get("id"), int) and isinstance(n.get("at"), int | float)
        and isinstance(n.get("title"), str) and isinstance(n.get("text"), str)
        and (n.get("uid") is None or (isinstance(n["uid"], int) and not isinstance(n["uid"], bool)))
    ]  # fmt: skip


def notice_is_for(notice: Mapping[str, Any], uid: int | None) -> bool:
    """Whether a session of the person ``uid`` (None: uids unknown, as on Windows) shows ``notice``."""
    target = notice.get("uid")
    return target is None or uid is None or target == uid
