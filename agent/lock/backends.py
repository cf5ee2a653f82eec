"""Choosing the OS backends for the lock component, once, at start-up.

``build_lock_controller`` is what the runtime calls: it picks the idle clocks, the lock
chain, the notifier and the inhibitor source for ``platform`` and returns a ready (not yet
started) ``LockController``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent.events import EventSink
from agent.lock.controller import LockController
from agent.lock.idle import idle_candidates
from agent.lock.inhibitors import InhibitorSource, LogindInhibitors, NoInhibitors
from agent.lock.lockers import LockChain
from agent.lock.notify import Notifier
from agent.lock.policy import PolicyConfig
from agent.posture.commands import CommandRunner, run_command

log = logging.getLogger(__name__)


def lock_chain_for(
    platform: str,
    runner: CommandRunner = run_command,
    command: Sequence[str] = (),
    session: str | None = None,
    uid: int | None = None,
) -> LockChain:
    """The lockers and checks for ``platform`` (``[lock] command`` is used on Linux only)."""
    if platform.startswith("win"):
        from agent.lock.lockers_windows import windows_lock_chain

        return windows_lock_chain()
    if platform == "darwin":
        from agent.lock.lockers_macos import macos_lock_chain

        return macos_lock_chain(runner)
    if not platform.startswith("linux"):
        log.warning("no native lockers for %s; trying the Linux ones", platform)
    from agent.lock.lockers_linux import linux_lock_chain

    return linux_lock_chain(runner, command=command, session=session, uid=uid)


def inhibitors_for(platform: str, runner: CommandRunner = run_command, uid: int | None = None) -> InhibitorSource:
    """logind's inhibitor list on Linux; none elsewhere (not yet read on Windows/macOS)."""
    if platform.startswith("linux"):
        return LogindInhibitors(runner, uid=uid)
    return NoInhibitors()


def build_lock_controller(
    sink: EventSink,
    policy: PolicyConfig,
    *,
    env: Mapping[str, str],
    lock_command: Sequence[str] = (),
    platform: str = sys.platform,
    runner: CommandRunner = run_command,
    uid: int | None = None,
    on_change: Callable[[], None] | None = None,
    **controller_options: Any,
) -> LockController:
    """A ``LockController`` with this platform's backends.

    ``env`` is the session environment (DISPLAY, XDG_SESSION_TYPE, XDG_SESSION_ID) read at
    the entry point; ``uid`` the session user's uid (limits process and inhibitor checks).
    ``controller_options`` pass through to ``LockController`` (intervals, clocks).
    """
    session = env.get("XDG_SESSION_ID") or None
    options = dict(controller_options)
    if on_change is not None:
        options["on_change"] = on_change
    return LockController(
        sink,
        policy,
        idle_candidates=idle_candidates(env, platform, runner),
        lock_chain=lock_chain_for(platform, runner, lock_command, session, uid),
        notifier=Notifier(platform),
        inhibitors=inhibitors_for(platform, runner, uid),
        **options,
    )
