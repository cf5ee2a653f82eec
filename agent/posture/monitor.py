"""Reporting posture at start-up and whenever it changes.

``ChangeDetector`` is the pure part: it remembers the last body per kind and says whether a
new one differs. ``PostureMonitor`` polls each ``PostureProbe`` on its own interval in one
thread and emits into the sink only on change (the first reading always counts as one).
``poke`` makes every probe due now, e.g. when the lock controller's state changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.events import EventSink

log = logging.getLogger(__name__)


class ChangeDetector:
    """The last body seen per kind; ``offer`` is True when a body is new or different."""

    def __init__(self) -> None:
        """Start with nothing seen."""
        self._last: dict[str, Mapping[str, Any]] = {}

    def offer(self, kind: str, body: Mapping[str, Any]) -> bool:
        """Remember ``body`` for ``kind``; True if it differs from the previous one."""
        if kind in self._last and self._last[kind] == body:
            return False
        self._last[kind] = body
        return True

    def latest(self, kind: str) -> Mapping[str, Any] | None:
        """The last body offered for ``kind``, if any."""
        return self._last.get(kind)


@dataclass(frozen=True)
class PostureProbe:
    """One posture kind (``lock_posture``, ``encryption_posture``) and how to read it."""

    kind: str
    read: Callable[[], Mapping[str, Any]]
    interval_s: float = 300.0


class PostureMonitor:
    """Polls probes and emits their bodies on change; one thread, stopped by an event."""

    def __init__(
        self,
        sink: EventSink,
        probes: Sequence[PostureProbe],
        *,
        clock: Callable[[], float] = time.monotonic,
        stop_event: threading.Event | None = None,
        max_wait_s: float = 1.0,
    ) -> None:
        """``max_wait_s`` bounds how long the thread sleeps between looks at ``stop_event``."""
        self._sink = sink
        self._probes = tuple(probes)
        self._clock = clock
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._wake = threading.Event()
        self._max_wait_s = max_wait_s
        self._detector = ChangeDetector()
        self._due = dict.fromkeys((p.kind for p in self._probes), 0.0)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def latest(self, kind: str) -> Mapping[str, Any] | None:
        """The last body read for ``kind`` (for the heartbeat's posture summary)."""
        with self._lock:
            return self._detector.latest(kind)

    def poke(self) -> None:
        """Make every probe due now and wake the thread (safe from any thread)."""
        with self._lock:
            for kind in self._due:
                self._due[kind] = 0.0
        self._wake.set()

    def poll_once(self) -> list[str]:
        """Read every due probe; emit those that changed; return the kinds emitted."""
        emitted: list[str] = []
        for probe in self._probes:
            now = self._clock()
            with self._lock:
                if self._due[probe.kind] > now:
                    continue
                self._due[probe.kind] = now + probe.interval_s
            try:
                body = probe.read()
            except Exception:  # a broken reader must not silence the others
                log.exception("posture probe %s failed", probe.kind)
                continue
            with self._lock:
                changed = self._detector.offer(probe.kind, body)
            if changed:
                self._sink.emit(probe.kind, body)
                emitted.append(probe.kind)
        return emitted

    def seconds_until_due(self) -> float:
        """How long until the next probe is due (0 if one is due now)."""
        now = self._clock()
        with self._lock:
            return max(0.0, min(self._due.values(), default=now + self._max_wait_s) - now)

    def start(self) -> None:
        """Start the monitor thread."""
        if self._thread is not None:
            raise RuntimeError("PostureMonitor already started")
        self._thread = threading.Thread(target=self.run, name="caseguard-posture", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def run(self) -> None:
        """Poll until stopped."""
        while not self._stop.is_set():
            self.poll_once()
            self._wake.wait(min(self._max_wait_s, self.seconds_until_due()))
            self._wake.clear()
