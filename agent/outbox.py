"""The durable outbox: every event is committed here (SQLite, WAL, synchronous=FULL) before
anything else happens to it, and deleted only once the collector acknowledges it.

The outbox is bounded. When it is full, the least valuable events go first: heartbeats,
then posture reports superseded by a newer one of the same kind, then (only to make room
for a critical event) routine events. Critical events are never dropped; if nothing can be
shed they are stored over the bound. What was shed is remembered by sequence number and
reported in an ``events_shed`` event so the collector can tell "shed" from "lost".

The outbox never imports protobuf: an ``encode`` callable (the transport codec) turns each
event into its wire bytes inside the committing transaction, once its seq is known.

Damage is survived, never a crash loop: at open the file is checked (``PRAGMA quick_check``). A
damaged outbox is moved aside (``<name>.damaged-<time>``, kept for forensics, never deleted) and a
fresh one starts a new **outbox epoch** (a random id carried in every envelope; seq restarts at
1). A fresh outbox where one existed before (it was deleted: the ``<name>.epoch`` file beside it
remembers) is a new epoch too. Either way the first event of the new epoch is a
``coverage_degraded`` (reason ``outbox-reset``) saying how many undelivered events may be lost.
A row that cannot be read while sending is dead-lettered on its own; the rest still go.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.errors import AgentError
from agent.events import POSTURE_KINDS, DeliveryClass, delivery_class
from agent.ids import uuid7
from agent.outbox_repair import Salvage, is_corruption, is_sound, move_aside, salvage
from agent.outbox_space import DEFAULT_RESERVE_BYTES, DiskReserve, is_disk_full

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    class INTEGER NOT NULL,
    created_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_class ON outbox(class, kind, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shed_pending (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shed_total (kind TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letter (
    event_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    payload BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class PendingEvent:
    """An event being committed: what the encoder sees."""

    event_id: str
    seq: int
    occurred_at: float  # Unix seconds
    kind: str
    body: Mapping[str, Any]
    epoch: str = ""  # the outbox epoch that numbered it


@dataclass(frozen=True)
class StoredEvent:
    """An undelivered event as read back for sending."""

    event_id: str
    seq: int
    kind: str
    payload: bytes


@dataclass(frozen=True)
class OutboxStatus:
    """What `caseguard-agent status` shows."""

    depth: int
    oldest_created_at: float | None
    last_delivery_at: float | None
    next_seq: int
    shed_totals: Mapping[str, int]
    shed_pending: int
    dead_letters: int
    last_error: str | None
    epoch: str = ""


class OutboxError(AgentError):
    """The outbox cannot be used at all (its folder is unwritable, or even a fresh one fails)."""


REASON_OUTBOX_RESET = "outbox-reset"  # a fresh outbox in a new epoch: seq restarts at 1
REASON_OUTBOX_REPAIRED = "outbox-repaired"  # damaged, moved aside; readable events kept, same epoch
REASON_DISK_FULL = "disk-full"  # count on recovery: events that waited in memory
REASON_DISK_FULL_DROPPED = "disk-full-dropped"  # count: routine events dropped (memory queue full)
DEFAULT_MAX_HELD = 20_000
_T = TypeVar("_T")


Encoder = Callable[[PendingEvent], bytes]


class Outbox:
    """A durable, bounded, multi-thread (and multi-process) safe event queue."""

    def __init__(
        self,
        path: Path,
        encode: Encoder,
        max_events: int = 200_000,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[], None] | None = None,
        reserve_bytes: int = DEFAULT_RESERVE_BYTES,
        max_held: int = DEFAULT_MAX_HELD,
    ) -> None:
        self._path = path
        # A full disk: the reserve is released first, then events wait here, in order, until
        # they can be committed (breach-class ones always; others up to max_held).
        self._reserve = DiskReserve(path.with_name(path.name + ".reserve"), reserve_bytes)
        self._held: deque[tuple[str, Mapping[str, Any], float]] = deque()
        self._held_lock = threading.Lock()
        self._max_held = max_held
        self._disk_full = False
        self._held_since_full = 0  # events that had to wait in memory during this episode
        self._dropped_since_full = 0  # non-critical events dropped because the memory queue was full
        self._encode = encode
        self._max = max_events
        self._clock = clock
        self._on_commit = on_commit
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            report = self._open(repair=path.exists() and not is_sound(path))
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot use the outbox at {path}: {_why(exc)}") from exc
        self._reserve.make()
        self._report(report)

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so seq allocation is serialised
        # across processes (the agent and `caseguard-agent emit` may share one outbox).
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def _open(self, *, repair: bool) -> dict[str, Any] | None:
        """Connect (moving a damaged file aside first when ``repair``); the reset report to send, if any."""
        saved: Salvage | None = None
        if repair:
            aside = move_aside(self._path, self._clock())
        self._db = self._connect(self._path)
        self._db.executescript(_SCHEMA)
        if repair:
            saved = salvage(aside, self._db)
        with self._transaction():
            # The depth counter is derived state: recount once at open so it can never drift.
            self._set_meta("depth", self._count())
            epoch = self._meta("epoch")
            deleted = False
            if epoch is None:
                epoch = str(uuid7())
                self._set_meta("epoch", epoch)
                deleted = self._meta_int("next_seq", 1) == 1 and self._epoch_file().exists()
        self._epoch = str(epoch)
        self._write_epoch_file()
        if saved is not None and saved.epoch is not None:
            log.error(
                "outbox damaged: %d undelivered events saved, %s lost",
                saved.copied,
                "an unknown number" if saved.lost is None else saved.lost,
            )
            return self._reset_body(REASON_OUTBOX_REPAIRED, "damaged", saved.lost)
        if saved is not None or deleted:
            why = "damaged" if saved is not None else "deleted"
            lost = saved.lost if saved is not None else None
            log.error(
                "outbox %s: started a fresh one in a new epoch; %s undelivered events may be lost",
                why,
                "an unknown number of" if lost is None else lost,
            )
            return self._reset_body(REASON_OUTBOX_RESET, why, lost)
        return None

    @staticmethod
    def _reset_body(reason: str, why: str, lost: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"component": "outbox", "reason": reason, "scope": why, "recovered": False}
        if lost:
            body["count"] = lost
        return body

    def _report(self, body: Mapping[str, Any] | None) -> None:
        if body is not None:
            self.append("coverage_degraded", body)

    def _repair(self) -> None:
        """SQLite said the file is damaged while running: move it aside, keep what is readable."""
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            report = self._open(repair=True)
        self._report(report)

    def _guarded(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn``; after corruption, repair the outbox once and run it again."""
        try:
            return fn()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            log.error("outbox: SQLite reports damage (%s); repairing", exc)
        try:
            self._repair()
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot use the outbox at {self._path}: {_why(exc)}") from exc
        return fn()

    def _epoch_file(self) -> Path:
        return self._path.with_name(self._path.name + ".epoch")

    def _write_epoch_file(self) -> None:
        marker = self._epoch_file()
        with contextlib.suppress(OSError):
            if not marker.exists() or marker.read_text().strip() != self._epoch:
                tmp = marker.with_name(marker.name + ".tmp")
                tmp.write_text(self._epoch + "\n")
                os.replace(tmp, marker)

    @property
    def epoch(self) -> str:
        """This outbox's epoch (stamped on every event it numbers)."""
        return self._epoch

    def set_on_commit(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` after each commit of new events (used to wake the sender)."""
        self._on_commit = callback

    # -- producing ---------------------------------------------------------------------

    def append(self, kind: str, body: Mapping[str, Any], occurred_at: float | None = None) -> str | None:
        """Commit one event; returns its event_id, or None if it was shed on arrival."""
        ids = self.append_many([(kind, body)], occurred_at=occurred_at)
        return ids[0]

    def append_many(
        self, items: Sequence[tuple[str, Mapping[str, Any]]], occurred_at: float | None = None
    ) -> list[str | None]:
        """Commit several events in one transaction, in order.

        Bodies are encoded before commit; an encoding error aborts the whole call and
        nothing is stored (a programming error in a producer must be loud).

        On a full disk nothing raises: events that cannot be committed yet wait in memory, in
        order, and their ids are None until they are (see :meth:`retry_held`).
        """
        for kind, _ in items:
            delivery_class(kind)  # raises UnknownEventKind before touching the database
        now = self._clock() if occurred_at is None else occurred_at
        timed = [(kind, body, now) for kind, body in items]
        if self._held and not self.retry_held():
            self._hold(timed)  # older events are still waiting: keep the order
            return [None] * len(timed)
        try:
            return self._commit_or_free_space(timed)
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                raise
        self._hold(timed)
        return [None] * len(timed)

    def _commit_or_free_space(self, timed: Sequence[tuple[str, Mapping[str, Any], float]]) -> list[str | None]:
        try:
            return self._guarded(lambda: self._append_many(timed))
        except sqlite3.Error as exc:
            if not is_disk_full(exc) or not self._reserve.release():
                raise
        ids = self._guarded(lambda: self._append_many(timed))
        self._note_disk_full()
        return ids

    def _hold(self, timed: Sequence[tuple[str, Mapping[str, Any], float]]) -> None:
        with self._held_lock:
            for item in timed:
                if len(self._held) >= self._max_held and delivery_class(item[0]) is not DeliveryClass.CRITICAL:
                    self._dropped_since_full += 1
                    continue
                self._held.append(item)
                self._held_since_full += 1
            first = len(self._held) == len(timed)
        if first:
            log.error("disk full: events now wait in memory until they can be committed")
        else:
            log.debug("disk full: %d event(s) waiting in memory", len(self._held))
        self._note_disk_full()

    def _note_disk_full(self) -> None:
        """Report the full disk once per episode (committed with the reserve's room, or held)."""
        with self._held_lock:
            if self._disk_full:
                return
            self._disk_full = True
        body = {"component": "outbox", "reason": REASON_DISK_FULL, "scope": "state-dir", "recovered": False}
        try:
            self._guarded(lambda: self._append_many([("coverage_degraded", body, self._clock())]))
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                raise
            with self._held_lock:
                self._held.appendleft(("coverage_degraded", body, self._clock()))

    def retry_held(self) -> bool:
        """Commit events waiting in memory; True when none are left (and the disk is not full)."""
        with self._held_lock:
            waiting = list(self._held)
        if waiting:
            try:
                self._guarded(lambda: self._append_many(waiting))
            except sqlite3.Error as exc:
                if not is_disk_full(exc):
                    raise
                return False
            with self._held_lock:
                for _ in waiting:
                    self._held.popleft()
                if self._held:
                    return False
            log.warning("disk space back: %d event(s) committed late", len(waiting))
        if not self._disk_full or not self._reserve.make():
            return not self._disk_full
        with self._held_lock:
            held, dropped = self._held_since_full, self._dropped_since_full
            self._disk_full, self._held_since_full, self._dropped_since_full = False, 0, 0
        body: dict[str, Any] = {
            "component": "outbox",
            "reason": REASON_DISK_FULL,
            "scope": "state-dir",
            "recovered": True,
            "count": held,
        }
        reports = [("coverage_degraded", body, self._clock())]
        if dropped:
            reports.append(
                (
                    "coverage_degraded",
                    {
                        "component": "outbox",
                        "reason": REASON_DISK_FULL_DROPPED,
                        "scope": "state-dir",
                        "recovered": True,
                        "count": dropped,
                    },
                    self._clock(),
                )
            )
        self._guarded(lambda: self._append_many(reports))
        return True

    def _append_many(self, items: Sequence[tuple[str, Mapping[str, Any], float]]) -> list[str | None]:
        results: list[str | None] = []
        with self._lock, self._transaction():
            next_seq = self._meta_int("next_seq", 1)
            depth = self._meta_int("depth", 0)
            for kind, body, now in items:
                cls = delivery_class(kind)
                if depth >= self._max:
                    if self._make_room(kind, cls):
                        depth -= 1
                    elif cls is not DeliveryClass.CRITICAL:
                        # Nothing cheaper to shed: the new event is the one that goes.
                        self._db.execute("INSERT INTO shed_pending(seq, kind) VALUES (?, ?)", (next_seq, kind))
                        next_seq += 1
                        results.append(None)
                        continue
                    # else: a critical event with nothing to shed is stored over the bound.
                event = PendingEvent(str(uuid7()), next_seq, now, kind, body, self._epoch)
                payload = self._encode(event)
                self._db.execute(
                    "INSERT INTO outbox(event_id, seq, kind, class, created_at, payload) VALUES (?,?,?,?,?,?)",
                    (event.event_id, event.seq, kind, int(cls), now, payload),
                )
                depth += 1
                next_seq += 1
                results.append(event.event_id)
            self._set_meta("next_seq", next_seq)
            self._set_meta("depth", depth)
        if self._on_commit is not None:
            self._on_commit()
        return results

    def _make_room(self, kind: str, cls: DeliveryClass) -> bool:
        """Shed one event no more valuable than the incoming one; False if none can go."""
        victim = self._db.execute(
            "SELECT id, seq, kind FROM outbox WHERE kind = 'heartbeat' ORDER BY id LIMIT 1"
        ).fetchone()
        if victim is None:
            # A posture report superseded by a newer one of the same kind (queued, or arriving now).
            for posture_kind in sorted(POSTURE_KINDS):
                rows = self._db.execute(
                    "SELECT id, seq, kind FROM outbox WHERE kind = ? ORDER BY id LIMIT 2", (posture_kind,)
                ).fetchall()
                if len(rows) == 2 or (rows and kind == posture_kind):
                    victim = rows[0]
                    break
        if victim is None and cls is DeliveryClass.CRITICAL:
            victim = self._db.execute(
                "SELECT id, seq, kind FROM outbox WHERE class < ? ORDER BY class, id LIMIT 1",
                (int(DeliveryClass.CRITICAL),),
            ).fetchone()
        if victim is None or delivery_class(victim[2]) > cls:
            return False
        self._db.execute("DELETE FROM outbox WHERE id = ?", (victim[0],))
        self._db.execute("INSERT INTO shed_pending(seq, kind) VALUES (?, ?)", (victim[1], victim[2]))
        log.warning("outbox full (%d events): shed one %s event", self._max, victim[2])
        return True

    def take_shed_report(self) -> str | None:
        """If events were shed since the last report, commit an ``events_shed`` event for them.

        Returns the report's event_id, or None when there was nothing to report (or no room:
        the slots stay pending and are reported once there is).
        """
        return self._unless_full(lambda: self._guarded(lambda: self._take_shed_report()), None)

    def _unless_full(self, fn: Callable[[], _T], default: _T) -> _T:
        """Run ``fn``; on a full disk log it and return ``default`` (for bookkeeping that can wait)."""
        try:
            return fn()
        except sqlite3.Error as exc:
            if not is_disk_full(exc):
                raise
            log.warning("disk full: outbox bookkeeping deferred")
            return default

    def _take_shed_report(self) -> str | None:
        with self._lock, self._transaction():
            rows = self._db.execute("SELECT seq, kind FROM shed_pending ORDER BY seq").fetchall()
            if not rows:
                return None
            counts: dict[str, int] = {}
            for _, kind in rows:
                counts[kind] = counts.get(kind, 0) + 1
            ranges = _ranges(seq for seq, _ in rows)
            body = {
                "counts_by_kind": counts,
                "seq_ranges": [{"first": a, "last": b} for a, b in ranges],
                "total": len(rows),
            }
            next_seq = self._meta_int("next_seq", 1)
            now = self._clock()
            event = PendingEvent(str(uuid7()), next_seq, now, "events_shed", body, self._epoch)
            self._db.execute(
                "INSERT INTO outbox(event_id, seq, kind, class, created_at, payload) VALUES (?,?,?,?,?,?)",
                (event.event_id, next_seq, "events_shed", int(DeliveryClass.CRITICAL), now, self._encode(event)),
            )
            self._db.execute("DELETE FROM shed_pending")
            for kind, n in counts.items():
                self._db.execute(
                    "INSERT INTO shed_total(kind, count) VALUES (?, ?) "
                    "ON CONFLICT(kind) DO UPDATE SET count = count + excluded.count",
                    (kind, n),
                )
            self._set_meta("next_seq", next_seq + 1)
            self._set_meta("depth", self._meta_int("depth", 0) + 1)
        log.warning("reported %d shed events to the collector", len(rows))
        return event.event_id

    # -- delivering --------------------------------------------------------------------

    def peek(self, limit: int) -> list[StoredEvent]:
        """The oldest ``limit`` undelivered events, in commit order (repairing a damaged outbox).

        The sender calls this all the time, so it is also where events waiting in memory on a
        full disk are committed once there is room again.
        """
        if self._held or self._disk_full:
            self.retry_held()
        return self._guarded(lambda: self._peek(limit))

    def _peek(self, limit: int) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, seq, kind, payload FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def peek_critical(self, limit: int) -> list[StoredEvent]:
        """The oldest ``limit`` undelivered breach-class (critical) events, in commit order.

        What the sender delivers while the collector throttles this device's routine events.
        """
        if self._held or self._disk_full:
            self.retry_held()
        return self._guarded(lambda: self._peek_critical(limit))

    def _peek_critical(self, limit: int) -> list[StoredEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, seq, kind, payload FROM outbox WHERE class = ? ORDER BY id LIMIT ?",
                (int(DeliveryClass.CRITICAL), limit),
            ).fetchall()
        return [StoredEvent(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def ack(self, event_ids: Iterable[str]) -> int:
        """Delete acknowledged events; returns how many were deleted."""
        ids = list(event_ids)
        return self._guarded(lambda: self._ack(ids))

    def _ack(self, event_ids: Iterable[str]) -> int:
        ids = list(event_ids)
        if not ids:
            return 0
        with self._lock, self._transaction():
            before = self._db.total_changes
            for chunk in _chunks(ids, 500):
                self._db.execute(f"DELETE FROM outbox WHERE event_id IN ({','.join('?' * len(chunk))})", chunk)
            deleted = self._db.total_changes - before
            self._set_meta("depth", self._meta_int("depth", 0) - deleted)
            self._set_meta("last_delivery_at", self._clock())
            self._set_meta("last_error", None)
        return deleted

    def dead_letter(self, rejections: Mapping[str, str]) -> None:
        """Move events the collector will never accept out of the queue, keeping them on disk."""
        self._guarded(lambda: self._dead_letter(rejections))

    def _dead_letter(self, rejections: Mapping[str, str]) -> None:
        if not rejections:
            return
        with self._lock, self._transaction():
            now = self._clock()
            before = self._db.total_changes
            for event_id, reason in rejections.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO dead_letter(event_id, seq, kind, reason, at, payload) "
                    "SELECT event_id, seq, kind, ?, ?, payload FROM outbox WHERE event_id = ?",
                    (reason, now, event_id),
                )
            moved = self._db.total_changes - before
            self._db.execute(
                f"DELETE FROM outbox WHERE event_id IN ({','.join('?' * len(rejections))})", list(rejections)
            )
            self._set_meta("depth", self._meta_int("depth", 0) - moved)
        log.error("collector rejected %d event(s); kept in the dead-letter table", len(rejections))

    def note_error(self, message: str) -> None:
        """Remember the last delivery error for `status`."""
        self._unless_full(lambda: self._guarded(lambda: self._note_error(message)), None)

    def _note_error(self, message: str) -> None:
        with self._lock, self._transaction():
            self._set_meta("last_error", message)

    # -- inspecting --------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Depth, age and delivery facts for IT."""
        return self._guarded(lambda: self._status())

    def _status(self) -> OutboxStatus:
        with self._lock:
            return _read_status(self._db)

    def depth(self) -> int:
        """How many events are waiting for delivery."""
        return self._guarded(lambda: self._depth())

    def _depth(self) -> int:
        with self._lock:
            return self._meta_int("depth", 0)

    def close(self) -> None:
        """Close the database (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._db.close()

    # -- internals ---------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _meta_int(self, key: str, default: int) -> int:
        value = self._meta(key)
        return default if value is None else int(value)

    def _set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def read_status(path: Path) -> OutboxStatus:
    """The outbox's status read without writing anything (works on a full disk, never repairs).

    Raises OutboxError when the file cannot be read.
    """
    last_exc: sqlite3.Error | None = None
    for uri in (f"file:{path}?mode=ro", f"file:{path}?immutable=1"):
        try:
            db = sqlite3.connect(uri, uri=True, timeout=5.0)
            try:
                return _read_status(db)
            finally:
                db.close()
        except sqlite3.Error as exc:  # e.g. no -shm file can be made; immutable reads the main file
            last_exc = exc
    raise OutboxError(f"cannot read the outbox at {path}: {last_exc}")


def _read_status(db: sqlite3.Connection) -> OutboxStatus:
    def meta(key: str) -> Any:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    depth = meta("depth")
    last = meta("last_delivery_at")
    err = meta("last_error")
    next_seq = meta("next_seq")
    epoch = meta("epoch")
    return OutboxStatus(
        depth=int(depth) if depth is not None else 0,
        oldest_created_at=db.execute("SELECT MIN(created_at) FROM outbox").fetchone()[0],
        last_delivery_at=float(last) if last is not None else None,
        next_seq=int(next_seq) if next_seq is not None else 1,
        shed_totals=dict(db.execute("SELECT kind, count FROM shed_total").fetchall()),
        shed_pending=db.execute("SELECT COUNT(*) FROM shed_pending").fetchone()[0],
        dead_letters=db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0],
        last_error=str(err) if err is not None else None,
        epoch=str(epoch) if epoch is not None else "",
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                self._db.execute("ROLLBACK")


def _ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Collapse sorted sequence numbers into inclusive ranges."""
    out: list[tuple[int, int]] = []
    for s in seqs:
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
