"""Lockers, lock checks, and the chain that tries them in order.

A ``Locker`` asks the OS to lock the session (``lock`` raises ``LockError`` if it could not
even ask). A ``LockCheck`` says whether the session is really locked now (True/False, or
None when it cannot tell). ``LockChain`` tries lockers in order, skipping those the policy
has already tried, and answers ``is_locked`` from all its checks. The OS-specific lists are
built in ``lockers_linux``, ``lockers_windows`` and ``lockers_macos``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psutil

from agent.errors import AgentError
from agent.posture.commands import CommandRunner

log = logging.getLogger(__name__)


class LockError(AgentError, RuntimeError):
    """A locker could not issue its lock request; the message is a short, log-safe reason."""


class Locker(Protocol):
    """One way to lock the session."""

    method: str

    def lock(self) -> None:
        """Issue the lock request; raises ``LockError`` if it could not be issued."""
        ...


class LockCheck(Protocol):
    """One way to tell whether the session is locked."""

    name: str

    def is_locked(self) -> bool | None:
        """True/False, or None when this check cannot tell."""
        ...


@dataclass(frozen=True)
class IssueResult:
    """What ``LockChain.issue`` did: the method that accepted (None if none did), every method
    tried in order (the accepting one last), why the others refused, and when the accepting one was asked."""

    method: str | None
    tried: tuple[str, ...]
    reason: str = ""
    asked_at: float | None = None  # the clock's time when the accepting locker was asked


class LockChain:
    """Lockers in order of preference plus the checks that verify them."""

    def __init__(self, lockers: Sequence[Locker], checks: Sequence[LockCheck]) -> None:
        """Keep the lockers (tried in this order) and the checks (any True means locked)."""
        self.lockers = tuple(lockers)
        self.checks = tuple(checks)

    @property
    def methods(self) -> tuple[str, ...]:
        """The methods this chain can try, in order."""
        return tuple(locker.method for locker in self.lockers)

    def issue(self, exclude: Sequence[str] = (), clock: Callable[[], float] = time.monotonic) -> IssueResult:
        """Try each locker not in ``exclude`` until one issues its request (``clock`` times the asking)."""
        tried: list[str] = []
        reasons: list[str] = []
        for locker in self.lockers:
            if locker.method in exclude:
                continue
            tried.append(locker.method)
            asked_at = clock()
            try:
                locker.lock()
            except LockError as exc:
                log.warning("lock via %s failed: %s", locker.method, exc)
                reasons.append(f"{locker.method}: {exc}")
                continue
            return IssueResult(locker.method, tuple(tried), "; ".join(reasons), asked_at)
        if not tried:
            reasons.append("no locker left to try")
        return IssueResult(None, tuple(tried), "; ".join(reasons))

    def is_locked(self) -> bool | None:
        """True if any check says locked; False if some say unlocked and none locked; else None.

        Checks run in order and stop at the first True, so put the cheapest first.
        """
        seen_false = False
        for check in self.checks:
            try:
                answer = check.is_locked()
            except Exception:  # a check must never take the controller down
                log.exception("lock check %s raised", check.name)
                continue
            if answer is True:
                return True
            seen_false = seen_false or answer is False
        return False if seen_false else None


class RunLocker:
    """Runs a command that returns once the lock was requested (loginctl, gdbus, ...)."""

    def __init__(self, method: str, argv: Sequence[str], runner: CommandRunner, timeout_s: float = 3.0) -> None:
        """``method`` is the name reported in events; ``argv`` is run without a shell."""
        self.method = method
        self._argv = tuple(argv)
        self._runner = runner
        self._timeout_s = timeout_s

    def lock(self) -> None:
        """Run the command; a non-zero exit is a ``LockError``."""
        result = self._runner(self._argv, self._timeout_s)
        if not result.ok:
            raise LockError(result.describe())


class ChildProcess(Protocol):
    """The part of ``subprocess.Popen`` a ``CommandLocker`` uses."""

    pid: int

    def poll(self) -> int | None:
        """Exit code, or None while running."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; raises ``subprocess.TimeoutExpired``."""
        ...

    def kill(self) -> None:
        """Kill the process."""
        ...


def spawn_detached(argv: Sequence[str]) -> ChildProcess:
    """Start a locker or notification command in its own session, so a signal to the agent's
    process group spares it (a locker must outlive the agent), with no inherited descriptors."""
    if sys.platform == "win32":  # no console window flashing up for a notification or locker
        return subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=True, creationflags=subprocess.CREATE_NO_WINDOW,
        )  # fmt: skip
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


ProcessIter = Callable[[list[str]], Iterator[Any]]


def _process_iter(attrs: list[str]) -> Iterator[Any]:
    return psutil.process_iter(attrs)


class ProcessRunningCheck:
    """Locked while a locker process of ours (by name, same user) is running."""

    def __init__(
        self,
        names: Sequence[str],
        uid: int | None = None,
        process_iter: ProcessIter = _process_iter,
    ) -> None:
        """``names`` are process names (as psutil reports them); ``uid`` limits to one user."""
        self.name = "process:" + ",".join(names)
        self._names = {n[:15] for n in names} | set(names)  # Linux comm names are cut to 15 chars
        self._uid = uid
        self._process_iter = process_iter

    def is_locked(self) -> bool | None:
        """True when a matching live (non-zombie) process exists."""
        attrs = ["name", "status"] + (["uids"] if self._uid is not None else [])
        for proc in self._process_iter(attrs):
            info = proc.info
            if info.get("name") not in self._names or info.get("status") == psutil.STATUS_ZOMBIE:
                continue
            uids = info.get("uids")
            if self._uid is None or (uids is not None and uids.real == self._uid):
                return True
        return False


class CommandLocker:
    """Starts the organisation's configured locker (``[lock] command``, an argv list).

    The locker may stay in the foreground (``i3lock -n``) or fork and exit 0 (plain
    ``i3lock``); either way counts as issued. An exit with a non-zero code within
    ``settle_s`` is a failure. The matching ``ProcessRunningCheck`` verifies it.
    """

    method = "command"

    def __init__(
        self,
        argv: Sequence[str],
        spawn: Callable[[Sequence[str]], ChildProcess] = spawn_detached,
        settle_s: float = 0.2,
    ) -> None:
        """``argv[0]`` is the program; no shell is involved."""
        if not argv:
            raise ValueError("lock command must not be empty")
        self.argv = tuple(argv)
        self._spawn = spawn
        self._settle_s = settle_s
        self._children: list[ChildProcess] = []

    def process_check(self, uid: int | None) -> ProcessRunningCheck:
        """A check that the locker's process is running (by its program name)."""
        return ProcessRunningCheck([os.path.basename(self.argv[0])], uid=uid)

    def lock(self) -> None:
        """Start the locker; raise ``LockError`` if it cannot start or fails at once."""
        self._children = [c for c in self._children if c.poll() is None]  # reap finished ones
        try:
            child = self._spawn(self.argv)
        except OSError as exc:
            raise LockError(f"{self.argv[0]}: {exc.strerror or exc}") from exc
        try:
            code = child.wait(timeout=self._settle_s)
        except subprocess.TimeoutExpired:
            self._children.append(child)
            return
        if code != 0:
            raise LockError(f"{os.path.basename(self.argv[0])} exited {code}")
