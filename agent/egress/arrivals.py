"""When is a file at a destination complete, and which copy burst is it part of?

``ArrivalTracker`` is fed file-system facts (created, closed after writing, moved in, gone,
found by a rescan) and answers with ``ReadyFile`` items. It does no watching itself and takes
its clock and ``stat`` as arguments, so it is tested without threads or a real file system.

* Closed after writing, or moved in: ready at once.
* Created (or found by a rescan) without either: ready once its size and mtime have been
  unchanged for ``settle_s`` (a file moved in from an unwatched folder, or one whose close was
  lost, gives no close event).
* A burst is the files arriving at one destination with gaps shorter than ``burst_gap_s``.
* A file already reported with the same (size, mtime) is not reported again, so a rescan after
  an overflow, or a watch's simulated create events, cannot duplicate a report. Reports are
  remembered for ``retention_s``; rescans must not look back further than that.

Not thread-safe: the watcher serialises calls.
"""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.egress.model import (
    ARRIVAL_CLOSED_AFTER_WRITE,
    ARRIVAL_MOVED_IN,
    ARRIVAL_QUIET,
    ARRIVAL_RESCAN,
    Destination,
    is_within,
)

# (size, mtime_ns): what "the same file content, as far as we can tell cheaply" means here.
Signature = tuple[int, int]
StatFn = Callable[[str], Signature | None]

DEFAULT_SETTLE_S = 2.0
DEFAULT_BURST_GAP_S = 5.0
DEFAULT_RETENTION_S = 600.0


def stat_signature(path: str) -> Signature | None:
    """``(size, mtime_ns)`` of a regular file (not following links); None if gone or not a file."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class ReadyFile:
    """A file judged complete at a destination: what ``on_file_ready`` receives."""

    destination: Destination
    path: str
    arrival: str
    burst_id: str


@dataclass
class _Pending:
    destination: Destination
    burst_id: str
    arrival: str
    signature: Signature
    changed_at: float


class ArrivalTracker:
    """Turns file-system facts into ready files with arrivals and burst ids (see module doc)."""

    def __init__(
        self,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        burst_gap_s: float = DEFAULT_BURST_GAP_S,
        retention_s: float = DEFAULT_RETENTION_S,
        clock: Callable[[], float] = time.monotonic,
        stat_fn: StatFn = stat_signature,
        new_burst_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._settle_s = settle_s
        self._burst_gap_s = burst_gap_s
        self._retention_s = retention_s
        self._clock = clock
        self._stat = stat_fn
        self._new_burst_id = new_burst_id
        self._pending: OrderedDict[str, _Pending] = OrderedDict()  # oldest change first
        self._reported: OrderedDict[str, tuple[Signature, float]] = OrderedDict()  # oldest report first
        self._bursts: dict[str, tuple[str, float]] = {}  # destination path -> (burst id, last arrival)

    @property
    def pending_count(self) -> int:
        """Files seen but not yet judged complete."""
        return len(self._pending)

    def created(self, destination: Destination, path: str) -> None:
        """A file appeared (or was opened for writing with truncation): wait for close or quiet."""
        signature = self._stat(path)
        if signature is None or self._already_reported(path, signature):
            return
        self._track(destination, path, signature, ARRIVAL_QUIET, changed_at=self._clock())

    def closed(self, destination: Destination, path: str) -> ReadyFile | None:
        """A file was closed after writing: ready now."""
        entry = self._pending.pop(path, None)
        signature = self._stat(path)
        if signature is None:
            return None
        return self._report(destination, path, ARRIVAL_CLOSED_AFTER_WRITE, signature, entry)

    def moved_in(self, destination: Destination, path: str, source: str | None = None) -> ReadyFile | None:
        """A file was renamed to ``path``, from ``source`` when that was watched too: ready now.

        A rename of a file already reported (same size and mtime) moves the record, not a report.
        """
        previous = None
        if source:
            self._pending.pop(source, None)
            previous = self._reported.pop(source, None)
        signature = self._stat(path)
        if signature is None:
            return None
        if previous is not None and previous[0] == signature:
            self._pending.pop(path, None)
            self._remember(path, signature)
            return None
        return self._report(destination, path, ARRIVAL_MOVED_IN, signature, self._pending.pop(path, None))

    def tree_moved_in(
        self, destination: Destination, directory: str, source: str | None, files: Iterable[str]
    ) -> list[ReadyFile]:
        """A folder was renamed to ``directory``: each file in it arrived by moving in."""
        if source:
            self.gone(source, tree=True, keep_reports_at=directory)
        ready = (self.moved_in(destination, path) for path in files)
        return [item for item in ready if item is not None]

    def rescanned(self, destination: Destination, path: str, *, recently_modified: bool) -> None:
        """A rescan found ``path`` not yet reported: judge it on quiet, as ``ARRIVAL_RESCAN``."""
        signature = self._stat(path)
        if signature is None or path in self._pending or self._already_reported(path, signature):
            return
        now = self._clock()
        # A file untouched for the settle period is judged at the next tick (after one more stat).
        changed_at = now if recently_modified else now - self._settle_s
        self._track(destination, path, signature, ARRIVAL_RESCAN, changed_at=changed_at)

    def gone(self, path: str, *, tree: bool = False, keep_reports_at: str | None = None) -> None:
        """``path`` (a file, or with ``tree`` a folder and everything in it) was deleted or moved away.

        With ``keep_reports_at``, reports under the folder move there instead (a folder rename).
        """
        self._pending.pop(path, None)
        self._reported.pop(path, None)
        if not tree:
            return
        for old in [p for p in self._pending if is_within(p, path)]:
            del self._pending[old]
        moved = [(old, self._reported.pop(old)) for old in [p for p in self._reported if is_within(p, path)]]
        if keep_reports_at is not None:
            for old, record in moved:
                self._reported[keep_reports_at + old[len(path) :]] = record

    def forget_destination(self, destination: Destination) -> None:
        """Drop everything known about files under ``destination`` (it went away)."""
        self.gone(os.fspath(destination.path), tree=True)
        self._bursts.pop(os.fspath(destination.path), None)

    def due(self) -> list[ReadyFile]:
        """Files that have now been quiet for the settle period; also forgets expired reports."""
        now = self._clock()
        ready: list[ReadyFile] = []
        while self._pending:
            path, entry = next(iter(self._pending.items()))
            if now - entry.changed_at < self._settle_s:
                break
            del self._pending[path]
            signature = self._stat(path)
            if signature is None:
                continue
            if signature != entry.signature:
                entry.signature, entry.changed_at = signature, now
                self._pending[path] = entry
                continue
            item = self._report(entry.destination, path, entry.arrival, signature, entry)
            if item is not None:
                ready.append(item)
        horizon = now - self._retention_s
        while self._reported and next(iter(self._reported.values()))[1] < horizon:
            self._reported.popitem(last=False)
        return ready

    # -- internals ----------------------------------------------------------------------------

    def _track(
        self, destination: Destination, path: str, signature: Signature, arrival: str, *, changed_at: float
    ) -> None:
        entry = self._pending.pop(path, None)
        if entry is None:
            entry = _Pending(destination, self._burst(destination), arrival, signature, changed_at)
        else:
            entry.signature, entry.changed_at = signature, max(entry.changed_at, changed_at)
        self._pending[path] = entry  # appended: the table stays ordered oldest change first ...
        if entry.changed_at <= self._clock() - self._settle_s:
            self._pending.move_to_end(path, last=False)  # ... except that an already-due entry goes first

    def _report(
        self, destination: Destination, path: str, arrival: str, signature: Signature, entry: _Pending | None
    ) -> ReadyFile | None:
        if self._already_reported(path, signature):
            return None
        burst_id = entry.burst_id if entry is not None else self._burst(destination)
        self._remember(path, signature)
        return ReadyFile(destination, path, arrival, burst_id)

    def _remember(self, path: str, signature: Signature) -> None:
        self._reported[path] = (signature, self._clock())
        self._reported.move_to_end(path)

    def _already_reported(self, path: str, signature: Signature) -> bool:
        previous = self._reported.get(path)
        return previous is not None and previous[0] == signature

    def _burst(self, destination: Destination) -> str:
        key = os.fspath(destination.path)
        now = self._clock()
        current = self._bursts.get(key)
        burst_id = current[0] if current is not None and now - current[1] < self._burst_gap_s else self._new_burst_id()
        self._bursts[key] = (burst_id, now)
        return burst_id
