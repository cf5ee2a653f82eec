"""Who is holding off the idle lock: logind idle inhibitors (video players, presentations).

Only the holders' names are reported (``who``), never their stated reasons, which may name
a document. GNOME session-manager inhibitors that do not reach logind are not seen here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Protocol

from agent.posture.commands import CommandRunner, run_command

log = logging.getLogger(__name__)

LIST_INHIBITORS_ARGV = (
    "busctl", "--system", "--json=short", "call",
    "org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "ListInhibitors",
)  # fmt: skip


class InhibitorSource(Protocol):
    """The names of applications currently blocking idle locking."""

    def names(self) -> tuple[str, ...]:
        """Current holders (may be empty)."""
        ...


class NoInhibitors:
    """For platforms with no inhibitor list to read."""

    def names(self) -> tuple[str, ...]:
        """Always empty."""
        return ()


def parse_list_inhibitors(text: str, uid: int | None = None) -> tuple[str, ...]:
    """Holders of ``block`` inhibitors whose ``what`` includes ``idle`` in busctl's JSON.

    Each entry is ``[what, who, why, mode, uid, pid]``; ``uid`` limits to one user's holders.
    """
    try:
        data = json.loads(text)["data"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return ()
    names: set[str] = set()
    for entry in data:
        if not isinstance(entry, Sequence) or len(entry) < 6:
            continue
        what, who, _why, mode, holder_uid = entry[0], entry[1], entry[2], entry[3], entry[4]
        if "idle" not in str(what).split(":") or mode != "block":
            continue
        if uid is not None and holder_uid != uid:
            continue
        names.add(str(who))
    return tuple(sorted(names))


class LogindInhibitors:
    """Reads logind's inhibitor list with ``busctl``; empty if logind cannot be asked."""

    def __init__(self, runner: CommandRunner = run_command, uid: int | None = None) -> None:
        """``uid`` limits to that user's inhibitors (None: everyone's)."""
        self._runner = runner
        self._uid = uid
        self._warned = False

    def names(self) -> tuple[str, ...]:
        """Current idle-inhibitor holders."""
        result = self._runner(LIST_INHIBITORS_ARGV, 3.0)
        if not result.ok:
            if not self._warned:
                self._warned = True
                log.info("cannot list logind inhibitors: %s", result.describe())
            return ()
        return parse_list_inhibitors(result.stdout, self._uid)
