"""Watch destinations and report each file that arrives there once it is complete.

One recursive watchdog watch per destination, added with :meth:`EgressWatcher.add` (a volume
appeared, a cloud root was discovered) and dropped with :meth:`EgressWatcher.remove`. The watch
uses an ``event_filter`` of created / closed / moved / deleted only: with watchdog's default mask
a 20,000-file burst overflows the kernel queue and a large tree can spin a core.

Outputs, both delivered on the watcher's own thread (keep them quick, e.g. enqueue):

* ``on_file_ready(destination, path, arrival, burst_id)`` — a file is complete: closed after
  writing, moved in, quiet for the settle period, or found by a rescan (see
  :mod:`agent.egress.arrivals`). ``burst_id`` ties together one copy burst.
* ``on_degraded(component, reason, scope, recovered)`` — coverage was lost
  (``"inotify-overflow"``, ``"watch-lost"``, ``"watcher-died"``, ``"watch-failed"``) and, with
  ``recovered=True``, regained after a rescan. ``scope`` is the destination class, never a path.

Coverage is never silently lost: an inotify overflow triggers a rescan of every watched tree for
files changed in the last ``rescan_lookback_s``; a watch the kernel dropped (unmount, deleted
root) or a dead emitter or observer is re-added when its root is back, with a rescan of what
changed meanwhile. Files already reported are not reported again.

Locking: watchdog calls handlers while holding its observer lock, so observer methods are only
called under ``_control`` and never while holding ``_state``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch

from agent.egress.arrivals import (
    DEFAULT_BURST_GAP_S,
    DEFAULT_RETENTION_S,
    DEFAULT_SETTLE_S,
    ArrivalTracker,
    ReadyFile,
)
from agent.egress.ignore_rules import is_ignored_path
from agent.egress.inotify_observer import CoverageListener
from agent.egress.model import Destination
from agent.egress.scan import walk_files

logger = logging.getLogger(__name__)

COMPONENT = "egress-watcher"
REASON_OVERFLOW = "inotify-overflow"
REASON_WATCH_LOST = "watch-lost"
REASON_WATCHER_DIED = "watcher-died"
REASON_WATCH_FAILED = "watch-failed"

EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileClosedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileDeletedEvent,
    DirDeletedEvent,
]

FileReadyCallback = Callable[[Destination, Path, str, str], None]
DegradedCallback = Callable[[str, str, str, bool], None]
ObserverFactory = Callable[[CoverageListener], BaseObserver]

_WATCHING, _LOST, _ABSENT, _FAILED = "watching", "lost", "absent", "failed"
_CLOCK_MARGIN_NS = 2_000_000_000  # ctime granularity and small clock steps


def default_observer_factory(platform: str = sys.platform) -> ObserverFactory:
    """The observer for this OS, chosen once: inotify with coverage reports on Linux, else watchdog's."""
    if platform.startswith("linux"):
        try:
            from agent.egress.inotify_observer import ReportingInotifyObserver

            return ReportingInotifyObserver
        except ImportError as exc:
            logger.warning("inotify observer unavailable (%s); using watchdog's default", type(exc).__name__)
    else:
        logger.info("no overflow reports from this platform's observer; watch loss is still detected")
    from watchdog.observers import Observer

    def native(listener: CoverageListener) -> BaseObserver:
        return Observer()

    return native


def polling_observer_factory(listener: CoverageListener) -> BaseObserver:
    """The last resort: watchdog's polling observer (no close events; files are judged on quiet)."""
    from watchdog.observers.polling import PollingObserver

    return PollingObserver()


@dataclass
class _Entry:
    destination: Destination
    state: str = _ABSENT
    watch: ObservedWatch | None = None
    covered_ns: int = 0  # wall time until which coverage is known complete
    lost_at: float | None = None
    lost_reason: str = REASON_WATCH_LOST
    degraded_reason: str | None = None  # reported degraded, not yet recovered


@dataclass
class _RescanRequest:
    reason: str
    since_ns: int
    requested_at: float


@dataclass(frozen=True)
class _Degraded:
    reason: str
    scope: str
    recovered: bool


class _DestinationHandler(FileSystemEventHandler):
    def __init__(self, watcher: EgressWatcher, destination: Destination) -> None:
        self._watcher = watcher
        self._destination = destination

    def dispatch(self, event: FileSystemEvent) -> None:
        self._watcher._on_event(self._destination, event)


class EgressWatcher(CoverageListener):
    """Watches destinations and reports complete files and coverage changes (see module doc)."""

    def __init__(
        self,
        on_file_ready: FileReadyCallback,
        on_degraded: DegradedCallback,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        burst_gap_s: float = DEFAULT_BURST_GAP_S,
        tick_s: float = 0.25,
        maintenance_s: float = 2.0,
        lost_grace_s: float = 3.0,
        rescan_delay_s: float = 0.2,
        rescan_lookback_s: float = 300.0,
        observer_factory: ObserverFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ns: Callable[[], int] = time.time_ns,
        new_burst_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        if rescan_lookback_s > DEFAULT_RETENTION_S - 60:
            raise ValueError("rescan_lookback_s must stay well inside the report retention")
        self._on_file_ready = on_file_ready
        self._on_degraded = on_degraded
        self._settle_ns = int(settle_s * 1e9)
        self._tick_s = tick_s
        self._maintenance_s = maintenance_s
        self._lost_grace_s = lost_grace_s
        self._rescan_delay_s = rescan_delay_s
        self._lookback_ns = int(rescan_lookback_s * 1e9)
        self._observer_factory = observer_factory or default_observer_factory()
        self._clock = clock
        self._wall_ns = wall_clock_ns
        self._tracker = ArrivalTracker(
            settle_s=settle_s, burst_gap_s=burst_gap_s, clock=clock, new_burst_id=new_burst_id
        )
        self._state = threading.Lock()  # tracker, entries, rescan requests, episodes
        self._control = threading.RLock()  # observer calls; taken before _state, never inside it
        self._entries: dict[str, _Entry] = {}
        self._rescans: dict[str, _RescanRequest] = {}
        # Overflow degradations open by scope: one overflow across many watches is reported once.
        self._overflow_scopes: set[str] = set()
        self._out: queue.SimpleQueue[ReadyFile | _Degraded | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._maintain_now = False  # set by the reader thread: re-add lost watches at the next tick

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the observer and the watcher's thread; schedule destinations added so far."""
        with self._control:
            self._observer = self._new_observer()
            self._observer.start()
            for key in list(self._entries):
                self._schedule(key)
        self._thread = threading.Thread(target=self._run, name="caseguard-egress-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching. Files still waiting for their settle period are not reported."""
        self._stop.set()
        self._out.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._control:
            if self._observer is not None:
                self._observer.stop()
                if self._observer.is_alive():
                    self._observer.join(timeout)
                self._observer = None

    def __enter__(self) -> EgressWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- destinations -------------------------------------------------------------------------

    def add(self, destination: Destination, *, rescan_since_ns: int | None = None) -> None:
        """Watch ``destination`` (replacing any watch on the same path with a fresh one).

        With ``rescan_since_ns``, files there changed since that wall time are judged too.
        Adding an identical destination that is being watched does nothing.
        """
        key = os.fspath(destination.path)
        with self._control:
            with self._state:
                current = self._entries.get(key)
                if current is not None and current.destination == destination and current.state == _WATCHING:
                    return
            if current is not None:
                self.remove(current.destination)
            with self._state:
                self._entries[key] = _Entry(destination, covered_ns=self._wall_ns())
                if rescan_since_ns is not None:
                    self._request_rescan(key, REASON_WATCH_LOST, rescan_since_ns)
            if self._observer is not None:
                self._schedule(key)

    def remove(self, destination: Destination) -> None:
        """Stop watching ``destination`` (e.g. its volume was unmounted) and forget its files."""
        key = os.fspath(destination.path)
        with self._control:
            with self._state:
                entry = self._entries.pop(key, None)
                self._rescans.pop(key, None)
                if entry is not None:
                    self._tracker.forget_destination(entry.destination)
            if entry is not None and entry.watch is not None and self._observer is not None:
                self._unschedule(entry.watch)

    def destinations(self) -> dict[Destination, str]:
        """Each destination with its state: ``watching``, ``lost``, ``absent`` or ``failed``."""
        with self._state:
            return {entry.destination: entry.state for entry in self._entries.values()}

    def request_rescan(self, destination: Destination, *, since_ns: int) -> None:
        """Judge the files under ``destination`` changed since ``since_ns`` (wall clock) and unreported."""
        with self._state:
            self._request_rescan(os.fspath(destination.path), REASON_WATCH_LOST, since_ns)
        self._out.put(None)

    # -- CoverageListener (called on watchdog's inotify reader thread) ------------------------

    def on_overflow(self, root: str, *, watches_rebuilt: bool = True) -> None:
        """Events may be lost under ``root``: report degraded and rescan it (re-adding the watch if needed)."""
        with self._state:
            entry = self._entries.get(root)
            if entry is None:
                return
            logger.warning("egress watcher: inotify queue overflow (%s)", entry.destination.destination_class)
            scope = entry.destination.destination_class
            if scope not in self._overflow_scopes:
                self._overflow_scopes.add(scope)
                self._out.put(_Degraded(REASON_OVERFLOW, scope, False))
            self._request_rescan(root, REASON_OVERFLOW, self._wall_ns() - self._lookback_ns)
            if not watches_rebuilt and entry.state == _WATCHING:
                self._mark_lost(entry, REASON_OVERFLOW)
                self._maintain_now = True
        self._out.put(None)

    def on_root_watch_lost(self, root: str) -> None:
        """The kernel dropped the watch on ``root``: re-add it when the root is back."""
        with self._state:
            entry = self._entries.get(root)
            if entry is not None and entry.state == _WATCHING:
                self._mark_lost(entry, REASON_WATCH_LOST)

    # -- event handling (observer thread) -----------------------------------------------------

    def _on_event(self, destination: Destination, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        ready: list[ReadyFile] = []
        if isinstance(event, DirMovedEvent):
            files = None
            if self._wanted(destination, dest):
                files = [p for p, _ in walk_files(dest, excluded=_excluded(destination))]
            with self._state:
                if files is not None:
                    ready = self._tracker.tree_moved_in(destination, dest, src or None, files)
                elif src:
                    self._tracker.gone(src, tree=True)
        else:
            with self._state:
                item: ReadyFile | None = None
                if isinstance(event, FileMovedEvent):
                    if self._wanted(destination, dest):
                        item = self._tracker.moved_in(destination, dest, src or None)
                    elif src:
                        self._tracker.gone(src)
                elif isinstance(event, FileClosedEvent):
                    if self._wanted(destination, src):
                        item = self._tracker.closed(destination, src)
                elif isinstance(event, FileCreatedEvent):
                    if self._wanted(destination, src):
                        self._tracker.created(destination, src)
                elif isinstance(event, FileDeletedEvent):
                    self._tracker.gone(src)
                elif isinstance(event, DirDeletedEvent):
                    self._tracker.gone(src, tree=True)
                if item is not None:
                    ready.append(item)
        for item in ready:
            self._out.put(item)

    @staticmethod
    def _wanted(destination: Destination, path: str) -> bool:
        return bool(path) and destination.contains(path) and not is_ignored_path(path, os.fspath(destination.path))

    # -- the watcher thread ---------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = next_maintenance = self._clock()
        while not self._stop.is_set():
            try:
                item = self._out.get(timeout=max(0.0, next_tick - self._clock()))
            except queue.Empty:
                item = None
            if item is not None:
                self._deliver(item)
            now = self._clock()
            if now < next_tick:
                continue
            next_tick = now + self._tick_s
            with self._state:
                due = self._tracker.due()
            for ready in due:
                self._deliver(ready)
            if now >= next_maintenance or self._maintain_now:
                next_maintenance = now + self._maintenance_s
                self._maintain_now = False
                self._maintain()
            self._run_rescans()

    def _deliver(self, item: ReadyFile | _Degraded) -> None:
        try:
            if isinstance(item, ReadyFile):
                self._on_file_ready(item.destination, Path(item.path), item.arrival, item.burst_id)
            else:
                self._on_degraded(COMPONENT, item.reason, item.scope, item.recovered)
        except Exception:
            logger.exception("egress watcher: callback failed")

    def _run_rescans(self) -> None:
        now = self._clock()
        with self._state:
            ready = {k: r for k, r in self._rescans.items() if now - r.requested_at >= self._rescan_delay_s}
            for key in ready:
                del self._rescans[key]
        for key, request in ready.items():
            self._rescan(key, request)
        with self._state:
            if not self._rescans:
                for scope in sorted(self._overflow_scopes):
                    self._out.put(_Degraded(REASON_OVERFLOW, scope, True))
                self._overflow_scopes.clear()

    def _rescan(self, key: str, request: _RescanRequest) -> None:
        with self._state:
            entry = self._entries.get(key)
        if entry is None:
            return
        destination = entry.destination
        found = 0
        batch: list[tuple[str, bool]] = []
        for path, st in walk_files(key, excluded=_excluded(destination)):
            if max(st.st_ctime_ns, st.st_mtime_ns) < request.since_ns:
                continue
            batch.append((path, self._wall_ns() - st.st_mtime_ns < self._settle_ns))
            if len(batch) >= 500:
                found += self._feed_rescan(destination, batch)
        found += self._feed_rescan(destination, batch)
        logger.info(
            "egress watcher: rescan of %s after %s: %d recent files checked",
            destination.destination_class,
            request.reason,
            found,
        )
        with self._state:
            if entry.degraded_reason is not None and entry.state == _WATCHING:
                self._out.put(_Degraded(entry.degraded_reason, destination.destination_class, True))
                entry.degraded_reason = None

    def _feed_rescan(self, destination: Destination, batch: list[tuple[str, bool]]) -> int:
        with self._state:
            for path, recent in batch:
                self._tracker.rescanned(destination, path, recently_modified=recent)
        count = len(batch)
        batch.clear()
        return count

    # -- maintenance: lost watches, dead emitters, dead observer ------------------------------

    def _maintain(self) -> None:
        with self._control:
            observer = self._observer
            if observer is None or self._stop.is_set():
                return
            if not observer.is_alive():
                self._restart_observer()
                return
            alive = {e.watch for e in observer.emitters if e.is_alive()}
            now = self._clock()
            with self._state:
                entries = list(self._entries.items())
                for _, entry in entries:
                    if entry.state == _WATCHING and entry.watch not in alive:
                        self._mark_lost(entry, REASON_WATCHER_DIED)
                    overdue = entry.lost_at is not None and (
                        now - entry.lost_at >= self._lost_grace_s or entry.lost_reason == REASON_WATCHER_DIED
                    )
                    if entry.state == _LOST and entry.degraded_reason is None and overdue:
                        self._open_degraded(entry, entry.lost_reason)
            for key, entry in entries:
                if entry.state != _WATCHING:
                    if entry.watch is not None:
                        self._unschedule(entry.watch)
                        entry.watch = None
                    self._schedule(key)

    def _restart_observer(self) -> None:
        logger.warning("egress watcher: observer thread died; restarting it")
        with self._state:
            for entry in self._entries.values():
                entry.watch = None
                if entry.state == _WATCHING:
                    self._mark_lost(entry, REASON_WATCHER_DIED)
                    self._open_degraded(entry, REASON_WATCHER_DIED)
        self._observer = self._new_observer()
        self._observer.start()
        for key in list(self._entries):
            self._schedule(key)

    def _schedule(self, key: str) -> None:
        """Add the watch for ``key`` (under ``_control``); on success rescan what may have been missed."""
        observer = self._observer
        with self._state:
            entry = self._entries.get(key)
        if entry is None or observer is None:
            return
        previous = entry.state
        if not os.path.isdir(key):
            with self._state:
                if previous == _WATCHING:
                    self._mark_lost(entry, REASON_WATCH_LOST)
            return
        handler = _DestinationHandler(self, entry.destination)
        try:
            watch = observer.schedule(handler, key, recursive=True, event_filter=EVENT_FILTER)
        except OSError as exc:
            with self._state:
                if previous != _FAILED:
                    logger.warning(
                        "egress watcher: cannot watch a %s (%s)", entry.destination.destination_class, exc.strerror
                    )
                    entry.state = _FAILED
                    if entry.degraded_reason is None:
                        self._open_degraded(entry, REASON_WATCH_FAILED)
            return
        with self._state:
            entry.watch, entry.state = watch, _WATCHING
            if previous in (_LOST, _FAILED):
                # Whatever arrived while unwatched is judged by a rescan, which also closes any
                # degradation reported meanwhile.
                reason = REASON_WATCH_FAILED if previous == _FAILED else entry.lost_reason
                self._request_rescan(key, reason, entry.covered_ns - _CLOCK_MARGIN_NS)
                logger.info("egress watcher: watch on a %s re-added", entry.destination.destination_class)
            entry.lost_at = None
            entry.covered_ns = self._wall_ns()
        self._out.put(None)

    def _unschedule(self, watch: ObservedWatch) -> None:
        if self._observer is None:
            return
        with contextlib.suppress(KeyError):  # already gone with its emitter
            self._observer.unschedule(watch)

    def _new_observer(self) -> BaseObserver:
        try:
            return self._observer_factory(self)
        except OSError as exc:
            logger.warning("egress watcher: native observer failed (%s); falling back to polling", exc.strerror)
            return polling_observer_factory(self)

    # -- helpers (caller holds _state) --------------------------------------------------------

    def _mark_lost(self, entry: _Entry, reason: str) -> None:
        entry.state, entry.lost_reason = _LOST, reason
        if entry.lost_at is None:
            entry.lost_at = self._clock()
            entry.covered_ns = self._wall_ns()

    def _request_rescan(self, key: str, reason: str, since_ns: int) -> None:
        current = self._rescans.get(key)
        if current is not None:
            current.since_ns = min(current.since_ns, since_ns)
            return
        self._rescans[key] = _RescanRequest(reason, since_ns, self._clock())

    def _open_degraded(self, entry: _Entry, reason: str) -> None:
        entry.degraded_reason = reason
        self._out.put(_Degraded(reason, entry.destination.destination_class, False))


def _excluded(destination: Destination) -> tuple[str, ...]:
    return tuple(os.fspath(p) for p in destination.excluded)
