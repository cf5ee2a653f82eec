"""The event store, once for both databases: devices, their certificates, events and sequence gaps.

SQLite (the default: one file, WAL, synchronous=FULL, so an acknowledged event survives power
loss) and PostgreSQL (several collectors share it; commits are durable) run the same queries;
tests/contract runs the same suite against both. An ingest transaction locks the devices it
stores for (SQLite: the file's writer lock; PostgreSQL: their rows, ``FOR UPDATE`` in name
order), so two collectors receiving one device's batches - an agent failing over mid-stream -
keep its sequence bookkeeping consistent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from collector.ingest.sequence import enter_epoch, reconcile
from collector.store.base import (
    Device,
    DeviceExists,
    IncomingEvent,
    IngestBounds,
    IngestOutcome,
    IngestTimedOut,
    SequenceGap,
    StoredEvent,
    StoreError,
    UnknownDevice,
)
from collector.store.database import Database, Failure, Tx
from collector.store.dialects import LockFailed, PostgresDialect, SqlDialect, SQLiteDialect
from collector.store.migrations import SchemaOutOfDate, migrate, require_current, schema_version

__all__ = ["EventStore", "PostgresStore", "SQLiteStore", "SchemaOutOfDate"]

_DEVICE_COLUMNS = "d.name, d.enrolled_at, d.revoked_at, d.last_seen_at, d.max_seq, d.lost_at"
_EVENT_COLUMNS = "device, event_id, seq, kind, occurred_at, received_at, agent_version, body"
# Counted in the ingest transaction, so the storage quota is exact across collectors.
_ADD_STORAGE = (
    "INSERT INTO device_storage(device, events, bytes) VALUES (?,?,?) ON CONFLICT (device) DO UPDATE"
    " SET events = device_storage.events + excluded.events, bytes = device_storage.bytes + excluded.bytes"
)
_INSERT_GAP = "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained) VALUES (?,?,?,?,?)"


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


class EventStore:
    """``Store`` over one database; one connection per thread."""

    def __init__(
        self, dialect: SqlDialect, *, require_current_schema: bool = True, bounds: IngestBounds | None = None
    ) -> None:
        self.bounds = bounds or IngestBounds()
        self._database = Database(
            dialect, failure=Failure(StoreError, "event storage failed"), lock_timeout_s=self.bounds.lock_timeout_s
        )
        self.dialect = dialect
        try:
            if dialect.migrates_on_open:
                migrate(self._database)
            elif require_current_schema:
                require_current(self._database)
        except BaseException:
            self._database.close()
            raise

    # -- connections and migrations ----------------------------------------------------

    def _db(self) -> Any:
        """This thread's driver connection (for tests that tamper with the database)."""
        return self._database.connection()

    def schema_version(self) -> int:
        """The applied migration count (0 for an empty database)."""
        return schema_version(self._database)

    def migrate(self) -> tuple[int, int]:
        """Apply pending migrations; returns (from, to) versions."""
        return migrate(self._database)

    def close(self) -> None:
        """Close every connection this store opened."""
        self._database.close()

    # -- events ------------------------------------------------------------------------

    def ingest(self, batches: Sequence[tuple[str, Sequence[IncomingEvent]]], received_at_us: int) -> IngestOutcome:
        """Store several devices' batches in one durable transaction; idempotent on (device, event_id).

        The transaction is bounded (``bounds``: lock waits and each statement); one that runs
        out of time is rolled back and raises ``IngestTimedOut``, which the agent hears as
        "retry later" - never a silent loss.
        """
        by_device: dict[str, list[IncomingEvent]] = {}
        for device, events in batches:
            by_device.setdefault(device, []).extend(events)
        names = sorted(by_device)
        if not names:
            return IngestOutcome(0, 0, 0)
        try:
            return self._ingest(by_device, names, received_at_us)
        except StoreError as exc:
            if self._timed_out(exc):
                raise IngestTimedOut(
                    f"the database did not store the batch within its time limits ({exc}); nothing was stored"
                ) from exc
            raise

    def _timed_out(self, exc: BaseException) -> bool:
        seen: BaseException | None = exc
        while seen is not None:
            if isinstance(seen, LockFailed) or self.dialect.timed_out(seen):
                return True
            seen = seen.__cause__
        return False

    def _ingest(
        self, by_device: dict[str, list[IncomingEvent]], names: list[str], received_at_us: int
    ) -> IngestOutcome:
        stored = duplicates = gaps_detected = 0
        dialect = self.dialect
        with self._database.transaction() as tx, dialect.statement_deadline(tx.cursor, self.bounds.statement_timeout_s):
            rows = tx.rows(  # locks the devices' rows until commit (in name order: no deadlock)
                f"SELECT name, max_seq, outbox_epoch FROM devices WHERE name IN ({_placeholders(len(names))})"
                f" ORDER BY name{dialect.for_update}",
                names,
            )
            found = {r[0]: (int(r[1]), str(r[2])) for r in rows}
            missing = set(names) - set(found)
            if missing:
                raise StoreError(f"events for unregistered device {sorted(missing)[0]!r}")
            for device in names:
                events = by_device[device]
                max_seq, epoch = found[device]
                new = dialect.insert_new_events(tx.cursor, device, events, max_seq, received_at_us)
                stored += len(new)
                if new:
                    tx.run(_ADD_STORAGE, (device, len(new), sum(len(e.body) for e in new)))
                duplicates += len(events) - len(new)
                max_seq = self._enter_epoch(tx, device, new, max_seq, epoch)
                gaps_detected += self._update_sequence(tx, device, new, max_seq, received_at_us)
        return IngestOutcome(stored, duplicates, gaps_detected)

    @staticmethod
    def _enter_epoch(tx: Tx, device: str, new: Sequence[IncomingEvent], max_seq: int, current: str) -> int:
        """Follow the device into a new outbox epoch (see collector.ingest.sequence.enter_epoch)."""
        epochs = [e.outbox_epoch for e in new if e.outbox_epoch and e.seq > 0]
        if not epochs or epochs[-1] == current:
            return max_seq
        incoming = epochs[-1]
        old = [
            (int(a), int(b))
            for a, b in tx.rows(
                "SELECT first_seq, last_seq FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,)
            )
        ]
        start = enter_epoch(current, max_seq, old, incoming, [e.seq for e in new if e.outbox_epoch == incoming])
        if start.reset:
            # The old epoch's open gaps are explained by the reset (reported with its count).
            tx.run(
                "INSERT INTO sequence_gaps(device, first_seq, last_seq, detected_at, explained)"
                " SELECT device, first_seq, last_seq, detected_at, 'outbox-reset' FROM sequence_gaps"
                " WHERE device = ? AND explained IS NULL ON CONFLICT DO NOTHING",
                (device,),
            )
            tx.run("DELETE FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,))
        tx.run("UPDATE devices SET outbox_epoch = ?, max_seq = ? WHERE name = ?", (start.epoch, start.max_seq, device))
        return start.max_seq

    @staticmethod
    def _update_sequence(tx: Tx, device: str, new: Sequence[IncomingEvent], max_seq: int, received_at_us: int) -> int:
        """Record the gaps the new events opened or filled; move the device's highest seq."""
        arrived = [e.seq for e in new if e.seq > 0]  # seq 0: made by the collector, not the device
        shed = [r for e in new for r in e.shed_ranges]
        if not arrived and not shed:
            return 0
        # Only an event at or below the highest seq (or a shed report) can touch an open gap;
        # the common case - every event above it - just appends any new gap.
        needs_gaps = bool(shed) or any(s <= max_seq for s in arrived)
        old = (
            [
                (int(a), int(b), int(t))
                for a, b, t in tx.rows(
                    "SELECT first_seq, last_seq, detected_at FROM sequence_gaps WHERE device = ? AND explained IS NULL",
                    (device,),
                )
            ]
            if needs_gaps
            else []
        )
        result = reconcile(max_seq, [(a, b) for a, b, _ in old], arrived, shed)

        def first_detected(a: int, b: int) -> int:
            # A gap that shrank or split keeps the time its slots were first missed.
            return next((t for oa, ob, t in old if oa <= a and b <= ob), received_at_us)

        if not needs_gaps:
            tx.many(_INSERT_GAP, [(device, a, b, received_at_us, None) for a, b in result.detected])
        elif set(result.open_gaps) != {(a, b) for a, b, _ in old}:
            tx.run("DELETE FROM sequence_gaps WHERE device = ? AND explained IS NULL", (device,))
            tx.many(_INSERT_GAP, [(device, a, b, first_detected(a, b), None) for a, b in result.open_gaps])
        tx.many(
            _INSERT_GAP + " ON CONFLICT DO NOTHING",
            [(device, a, b, received_at_us, "shed") for a, b in result.explained],
        )
        tx.run(
            "UPDATE devices SET max_seq = ?, last_seen_at = ? WHERE name = ?", (result.max_seq, received_at_us, device)
        )
        return len(result.detected)

    def list_events(self, device: str | None = None, limit: int | None = None) -> Iterator[StoredEvent]:
        """Events in storage order."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM events"
        params: list[object] = []
        if device is not None:
            sql += " WHERE device = ?"
            params.append(device)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        for r in self._database.stream(sql, params):
            yield StoredEvent(r[0], r[1], int(r[2]), r[3], int(r[4]), int(r[5]), r[6], bytes(r[7]))

    def count_events(self, device: str | None = None) -> int:
        """How many events are stored (for one device, or all)."""
        if device is None:
            row = self._database.one("SELECT COUNT(*) FROM events")
        else:
            row = self._database.one("SELECT COUNT(*) FROM events WHERE device = ?", (device,))
        return 0 if row is None else int(row[0])

    def stored_bytes(self, device: str) -> int:
        """Bytes of event bodies stored for ``device`` since this count began (its storage quota's figure)."""
        row = self._database.one("SELECT bytes FROM device_storage WHERE device = ?", (device,))
        return 0 if row is None else int(row[0])

    def sequence_gaps(self, device: str | None = None) -> list[SequenceGap]:
        """Recorded gaps (open ones have explained = None), by device and first seq, open ones first."""
        sql = "SELECT device, first_seq, last_seq, detected_at, explained FROM sequence_gaps"
        params: tuple[str, ...] = ()
        if device is not None:
            sql += " WHERE device = ?"
            params = (device,)
        rows = self._database.rows(sql + " ORDER BY device, first_seq, explained NULLS FIRST", params)
        return [SequenceGap(r[0], int(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows]

    # -- devices -----------------------------------------------------------------------

    def register_device(self, name: str, cert_fingerprint: str, enrolled_at_us: int) -> None:
        """Enrol a new device with its first certificate."""
        with self._database.transaction() as tx:
            if (
                tx.run(
                    "INSERT INTO devices(name, enrolled_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (name, enrolled_at_us),
                )
                != 1
            ):
                raise DeviceExists(f"device {name!r} is already enrolled")
            tx.run(
                "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
                (cert_fingerprint, name, enrolled_at_us),
            )

    def add_certificate(self, name: str, cert_fingerprint: str, issued_at_us: int) -> None:
        """Attach a renewed certificate to a device."""
        if self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")
        self._database.run(
            "INSERT INTO device_certificates(fingerprint, device, issued_at) VALUES (?,?,?)",
            (cert_fingerprint, name, issued_at_us),
        )

    def revoke_device(self, name: str, at_us: int) -> None:
        """Refuse this device from now on."""
        changed = self._database.run(
            "UPDATE devices SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (at_us, name)
        )
        if changed == 0 and self.get_device(name) is None:
            raise UnknownDevice(f"no device named {name!r}")

    def touch_device(self, name: str, at_us: int) -> None:
        """Record a sighting."""
        self._database.run("UPDATE devices SET last_seen_at = ? WHERE name = ?", (at_us, name))

    def mark_lost(self, name: str, at_us: int) -> None:
        """Record a lost/stolen report (the first report's time stands)."""
        if self._database.run("UPDATE devices SET lost_at = COALESCE(lost_at, ?) WHERE name = ?", (at_us, name)) == 0:
            raise UnknownDevice(f"no device named {name!r}")

    def device_for_certificate(self, cert_fingerprint: str) -> Device | None:
        """The device a certificate was issued to."""
        row = self._database.one(
            f"SELECT {_DEVICE_COLUMNS} FROM device_certificates c JOIN devices d ON d.name = c.device"
            " WHERE c.fingerprint = ?",
            (cert_fingerprint,),
        )
        return None if row is None else Device(*row)

    def get_device(self, name: str) -> Device | None:
        """One device by name."""
        row = self._database.one(f"SELECT {_DEVICE_COLUMNS} FROM devices d WHERE d.name = ?", (name,))
        return None if row is None else Device(*row)

    def list_devices(self) -> list[Device]:
        """All devices with their event and open-gap counts."""
        rows = self._database.rows(
            f"SELECT {_DEVICE_COLUMNS},"
            " (SELECT COUNT(*) FROM events e WHERE e.device = d.name),"
            " (SELECT COUNT(*) FROM sequence_gaps g WHERE g.device = d.name AND g.explained IS NULL)"
            f" FROM devices d ORDER BY d.name{self.dialect.by_code_point}"
        )
        return [Device(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7])) for r in rows]


class SQLiteStore(EventStore):
    """The default store: the collector's SQLite file, migrated when opened (one process owns it)."""

    def __init__(self, path: Path, *, bounds: IngestBounds | None = None) -> None:
        # 64 MiB of cache keeps the (device, event_id) index hot.
        super().__init__(SQLiteDialect(path, cache_kib=65536), bounds=bounds)


class PostgresStore(EventStore):
    """The store in a PostgreSQL database that several collectors share (migrated by `migrate`)."""

    def __init__(self, url: str, *, require_current_schema: bool = True, bounds: IngestBounds | None = None) -> None:
        super().__init__(PostgresDialect(url), require_current_schema=require_current_schema, bounds=bounds)
