"""The per-user session component: idle clock, lock enforcement, lock posture, and the notices
the system agent posts for the person at the laptop (a case file just saved to a stick).

Runs inside the user's graphical session (it needs the session's DISPLAY / logind session
and must lock *that* session) and hands every event to the system agent over the session
channel. It holds no keys and no outbox. Lock settings come from the agent's configuration,
overridden by the central policy the system agent has accepted (state_dir/session-policy.json),
which is re-read while running: a new policy takes effect without a restart.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, LockSettings
from agent.lock.backends import build_lock_controller
from agent.lock.controller import LockController
from agent.lock.notify import Notifier
from agent.lock.policy import PolicyConfig
from agent.lock.posture import lock_posture_body, lock_settings_reader
from agent.policy.session_file import (
    SESSION_POLICY_FILE,
    handoff_dir,
    handoff_problem,
    notice_is_for,
    read_lockdown,
    read_notices,
    read_session_policy,
)
from agent.posture.monitor import PostureMonitor, PostureProbe
from agent.session_channel import SessionChannelClient

log = logging.getLogger(__name__)

# How often the idle clock is read while a warning is up or a lock is due (and always for a clock
# that jumps, logind's idle hint): the lock lands at most this long after the timeout (plus the
# locker's start-up); an X11 idle query is a cheap round trip.
LOCK_POLL_S = 0.25
# While the person is active the idle clock is read when the warning could first be due, at least
# this often: 2 s, not 0.25 s, is most of the session component's idle CPU.
LOCK_ACTIVE_POLL_S = 2.0
# How often the policy, the lockdown and the notices are re-read (small local files).
POLICY_POLL_S = 1.0
# A notice older than this when first seen (the session started later) is not shown.
NOTICE_MAX_AGE_S = 120.0
NOTICE_SHOWN_S = 20.0


class SessionRuntime:
    """Everything `caseguard-agent session` runs, startable and stoppable from tests."""

    def __init__(
        self,
        config: AgentConfig,
        env: Mapping[str, str] | None = None,
        *,
        notifier: Notifier | None = None,
        wall_clock: Callable[[], float] = time.time,
        sink: SessionChannelClient | None = None,
    ) -> None:
        self._config = config
        self._env = dict(os.environ if env is None else env)
        self.notifier = notifier if notifier is not None else Notifier()
        self._wall = wall_clock
        self._uid = os.getuid() if hasattr(os, "getuid") else None  # this session's person (None: Windows)
        # Notices already there when the session starts were for earlier: start after them.
        self._notices_seen = max((int(n["id"]) for n in read_notices(config.state_dir) or []), default=0)
        self._notice_failing = ""
        self._handoff_problem = ""
        self._stop = threading.Event()
        self.sink = sink if sink is not None else SessionChannelClient(config.session.socket)
        self._lock_settings = self._with_policy(config.lock, read_session_policy(config.state_dir))
        self.controller: LockController | None = self._build_controller(self._lock_settings)
        self._read_settings = lock_settings_reader(self._env, home=str(Path.home()))
        self.monitor = PostureMonitor(
            self.sink,
            [PostureProbe("lock_posture", self._lock_posture, config.posture.lock_interval_s)],
            stop_event=self._stop,
        )
        self._policy_thread = threading.Thread(target=self._watch_policy, name="caseguard-session-policy",
                                               daemon=True)

    def _lock_posture(self) -> dict[str, Any]:
        """OS lock settings against the policy in force, and whether our controller enforces it."""
        controller = self.controller
        return lock_posture_body(
            self._read_settings(),
            self._lock_settings.idle_timeout_s,
            controller is not None and controller.enforcement_active,
            controller.inhibitors if controller is not None else (),
        )

    @staticmethod
    def _with_policy(local: LockSettings, policy: Mapping[str, Any] | None) -> LockSettings:
        if not policy:
            return local
        return dataclasses.replace(
            local,
            idle_timeout_s=float(policy.get("idle_timeout_s", local.idle_timeout_s)),
            warn_s=float(policy.get("warn_s", local.warn_s)),
            allow_inhibitors=bool(policy.get("allow_inhibitors", local.allow_inhibitors)),
        )

    def _build_controller(self, lk: LockSettings) -> LockController | None:
        if not lk.enabled:
            return None
        policy = PolicyConfig(
            idle_timeout_s=lk.idle_timeout_s, warn_s=lk.warn_s, allow_inhibitors=lk.allow_inhibitors, retry_s=lk.retry_s
        )
        return build_lock_controller(
            self.sink,
            policy,
            env=self._env,
            lock_command=lk.command,
            uid=self._uid,
            on_change=self._posture_changed,
            stop_event=threading.Event(),  # its own: a policy change replaces the controller alone
            poll_interval_s=LOCK_POLL_S,
            active_poll_s=LOCK_ACTIVE_POLL_S,
        )

    def _posture_changed(self) -> None:
        monitor = getattr(self, "monitor", None)
        if monitor is not None:
            monitor.poke()

    def _handoff_readable(self) -> bool:
        """Whether the system agent's handoff folder can be read; a change either way is reported once.

        Unreadable is a deployment error (state_dir closed to users): the central lock policy,
        a lockdown and the case-file notices would all be missed, so it is lost coverage.
        """
        problem = handoff_problem(self._config.state_dir)
        if problem != self._handoff_problem:
            if problem:
                log.error("session: cannot read %s (%s): no central lock policy, lockdown or notices",
                          handoff_dir(self._config.state_dir), problem)  # fmt: skip
            self.sink.emit("coverage_degraded", {"component": "session_handoff", "reason": problem or
                                                 self._handoff_problem, "scope": "session",
                                                 "recovered": not problem})  # fmt: skip
            self._handoff_problem = problem
        return not problem

    def _follow_lockdown(self) -> None:
        """A device reported lost: every session locks now, and again at every sign-in, until IT finds it.

        Callers check ``_handoff_readable`` first: when the folder cannot be read, what is in force stays.
        """
        on = read_lockdown(self._config.state_dir)
        controller = self.controller
        if controller is not None and controller.lockdown != on:
            log.warning("lockdown %s", "begins: this device is reported lost" if on else "ends: IT found this device")
            controller.set_lockdown(on)

    def show_notices(self) -> int:
        """Show the notices posted since the last look (recent ones only); how many were shown."""
        notices = read_notices(self._config.state_dir)
        if notices is None:  # being replaced, or damaged: look again at the next poll
            self._report_notifier()
            return 0
        newest = max((int(n["id"]) for n in notices), default=0)
        if newest < self._notices_seen:  # the agent's state was reset: its numbers start again
            self._notices_seen = 0
        shown = 0
        for notice in notices:
            if notice["id"] <= self._notices_seen:
                continue
            self._notices_seen = notice["id"]
            if self._wall() - float(notice["at"]) > NOTICE_MAX_AGE_S or not notice_is_for(notice, self._uid):
                continue
            if self.notifier.show(notice["title"], notice["text"], NOTICE_SHOWN_S, what="case-file notice"):
                shown += 1
                log.info("case-file notice shown to the person at the laptop")
        self._report_notifier()
        return shown

    def _report_notifier(self) -> None:
        """A notice that cannot be shown is lost coverage: say so once, and again when it works."""
        failing = self.notifier.poll()
        if failing == self._notice_failing:
            return
        scope = "session"
        if failing:
            self.sink.emit("coverage_degraded", {"component": "desktop_notification", "reason": failing,
                                                 "scope": scope, "recovered": False})  # fmt: skip
        else:
            self.sink.emit("coverage_degraded", {"component": "desktop_notification", "reason": self._notice_failing,
                                                 "scope": scope, "recovered": True})  # fmt: skip
        self._notice_failing = failing

    def _watch_policy(self) -> None:
        while not self._stop.wait(POLICY_POLL_S):
            if not self._handoff_readable():
                continue  # reported; keep the policy and lockdown in force rather than guess
            self._follow_lockdown()
            try:
                self.show_notices()
            except Exception:  # a notice must never stop lock enforcement's policy watch
                log.exception("session: notices could not be shown")
            central = read_session_policy(self._config.state_dir)
            if central is None and (handoff_dir(self._config.state_dir) / SESSION_POLICY_FILE).exists():
                continue  # there but unreadable for a moment (being replaced): keep the policy in force
            wanted = self._with_policy(self._config.lock, central)
            if wanted == self._lock_settings:
                continue
            log.info("lock policy changed: idle timeout %.0f s", wanted.idle_timeout_s)
            old, self.controller = self.controller, self._build_controller(wanted)
            self._lock_settings = wanted
            if old is not None:
                old.stop()
            if self.controller is not None:
                if old is not None and old.lockdown:  # a new lock policy never lifts a lockdown
                    self.controller.set_lockdown(True)
                self.controller.start()
            self.monitor.poke()

    def start(self) -> None:
        """Start forwarding, the posture monitor, lock enforcement and the policy watch."""
        self.sink.start()
        self.monitor.start()
        if self.controller is not None:
            self.controller.start()
        if self._handoff_readable():
            self._follow_lockdown()
        self._policy_thread.start()
        log.info("session component started (lock %s)", "enforced" if self.controller else "not enforced")

    def wait(self) -> None:
        """Block until stop() is called."""
        # Poll rather than block: SIGTERM may be delivered to a worker thread, and the main thread
        # only runs Python signal handlers when it wakes.
        while not self._stop.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop enforcement and posture, then flush queued events to the agent."""
        self._stop.set()
        if self.controller is not None:
            self.controller.stop()
        self.monitor.stop()
        self.notifier.close()
        self.sink.stop()
