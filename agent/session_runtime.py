"""The per-user session component: idle clock, lock enforcement and lock posture.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, LockSettings
from agent.lock.backends import build_lock_controller
from agent.lock.controller import LockController
from agent.lock.policy import PolicyConfig
from agent.lock.posture import lock_posture_body, lock_settings_reader
from agent.policy.session_file import read_lockdown, read_session_policy
from agent.posture.monitor import PostureMonitor, PostureProbe
from agent.session_channel import SessionChannelClient

log = logging.getLogger(__name__)

# How often the idle clock is read. The lock lands at most this long after the timeout
# (plus the locker's start-up); an X11 idle query is a cheap round trip.
LOCK_POLL_S = 0.25
POLICY_POLL_S = 2.0


class SessionRuntime:
    """Everything `caseguard-agent session` runs, startable and stoppable from tests."""

    def __init__(self, config: AgentConfig, env: Mapping[str, str] | None = None) -> None:
        self._config = config
        self._env = dict(os.environ if env is None else env)
        self._stop = threading.Event()
        self.sink = SessionChannelClient(config.session.socket)
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
            uid=os.getuid() if hasattr(os, "getuid") else None,
            on_change=self._posture_changed,
            stop_event=threading.Event(),  # its own: a policy change replaces the controller alone
            poll_interval_s=LOCK_POLL_S,
        )

    def _posture_changed(self) -> None:
        monitor = getattr(self, "monitor", None)
        if monitor is not None:
            monitor.poke()

    def _follow_lockdown(self) -> None:
        """A device reported lost: every session locks now, and again at every sign-in, until IT finds it."""
        on = read_lockdown(self._config.state_dir)
        controller = self.controller
        if controller is not None and controller.lockdown != on:
            log.warning("lockdown %s", "begins: this device is reported lost" if on else "ends: IT found this device")
            controller.set_lockdown(on)

    def _watch_policy(self) -> None:
        while not self._stop.wait(POLICY_POLL_S):
            self._follow_lockdown()
            wanted = self._with_policy(self._config.lock, read_session_policy(self._config.state_dir))
            if wanted == self._lock_settings:
                continue
            log.info("lock policy changed: idle timeout %.0f s", wanted.idle_timeout_s)
            old, self.controller = self.controller, self._build_controller(wanted)
            self._lock_settings = wanted
            if old is not None:
                old.stop()
            if self.controller is not None:
                self.controller.start()
            self.monitor.poke()

    def start(self) -> None:
        """Start forwarding, the posture monitor, lock enforcement and the policy watch."""
        self.sink.start()
        self.monitor.start()
        if self.controller is not None:
            self.controller.start()
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
        self.sink.stop()
