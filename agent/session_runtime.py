"""The per-user session component: idle clock, lock enforcement and lock posture.

Runs inside the user's graphical session (it needs the session's DISPLAY / logind session
and must lock *that* session) and hands every event to the system agent over the session
channel. It holds no keys and no outbox.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from agent.config import AgentConfig
from agent.lock.backends import build_lock_controller
from agent.lock.controller import LockController
from agent.lock.policy import PolicyConfig
from agent.lock.posture import lock_posture_probe, lock_settings_reader
from agent.posture.monitor import PostureMonitor, PostureProbe
from agent.session_channel import SessionChannelClient

log = logging.getLogger(__name__)

# How often the idle clock is read. The lock lands at most this long after the timeout
# (plus the locker's start-up); an X11 idle query is a cheap round trip.
LOCK_POLL_S = 0.25


class SessionRuntime:
    """Everything `caseguard-agent session` runs, startable and stoppable from tests."""

    def __init__(self, config: AgentConfig, env: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self._stop = threading.Event()
        self.sink = SessionChannelClient(config.session.socket)
        lk = config.lock
        policy = PolicyConfig(
            idle_timeout_s=lk.idle_timeout_s, warn_s=lk.warn_s, allow_inhibitors=lk.allow_inhibitors, retry_s=lk.retry_s
        )
        self.monitor: PostureMonitor | None = None
        self.controller: LockController | None = None
        if lk.enabled:
            self.controller = build_lock_controller(
                self.sink,
                policy,
                env=env,
                lock_command=lk.command,
                uid=os.getuid() if hasattr(os, "getuid") else None,
                on_change=self._posture_changed,
                stop_event=self._stop,
                poll_interval_s=LOCK_POLL_S,
            )
        probe = lock_posture_probe(
            lock_settings_reader(env, home=str(Path.home())), lk.idle_timeout_s, self.controller
        )
        self.monitor = PostureMonitor(
            self.sink, [PostureProbe("lock_posture", probe, config.posture.lock_interval_s)], stop_event=self._stop
        )

    def _posture_changed(self) -> None:
        if self.monitor is not None:
            self.monitor.poke()

    def start(self) -> None:
        """Start forwarding, the posture monitor and (if enabled) lock enforcement."""
        self.sink.start()
        assert self.monitor is not None
        self.monitor.start()
        if self.controller is not None:
            self.controller.start()
        log.info("session component started (lock %s)", "enforced" if self.controller else "not enforced")

    def wait(self) -> None:
        """Block until stop() is called."""
        self._stop.wait()

    def stop(self) -> None:
        """Stop enforcement and posture, then flush queued events to the agent."""
        self._stop.set()
        if self.controller is not None:
            self.controller.stop()
        if self.monitor is not None:
            self.monitor.stop()
        self.sink.stop()
