"""A persistent, incremental index of the protected stores (``[case_files] roots``) on this laptop.

For each document it keeps the SHA-256 of its bytes and its content fingerprints, so a file
arriving at an egress destination can be matched to the protected document it came from:

* :meth:`ProtectedIndex.by_sha256` — an exact copy;
* :meth:`ProtectedIndex.best_fingerprint_match` — the document sharing most of the file's
  fingerprints, with containment = |query ∩ document| / |query|, answered in SQL from an
  inverted table (fingerprint -> documents).

Documents are named by a keyed reference, HMAC-SHA256(org key, path) in hex: the collector, which
knows the key and the stores, can resolve it; an event carrying it reveals no path.

Storage is SQLite (WAL) under ``state_dir``. :meth:`reconcile` walks the roots and re-analyses only
files whose (path, size, mtime_ns) changed, and removes documents that are gone; a root that is
missing (a store not mounted) keeps its documents. :meth:`note_changed` / :meth:`note_deleted`
are the hooks a file watcher on the stores can call in between. Analysis of one file is the
injected ``analyse(path)`` returning anything with ``sha256``, ``size`` and ``fingerprints``
(``agent.classify.classifier.analyse_protected`` fits; an empty ``sha256`` counts as a failed
analysis). ``scheme`` names the fingerprint scheme; when it changes, everything is re-indexed.
The index answers the classifier's ``ProtectedLookup`` questions (``by_sha256``,
``best_fingerprint_match``, ``has_fingerprints``) without importing the classifier.

It also keeps, for exact-data matching, keyed hashes (HMAC-SHA256 under the organisation key, first 16
bytes) of the NHS numbers, NI numbers and case references found in each document (an analysis result's
optional ``identifiers``), and of those in an optional CSV export from the case-management system
(``known_identifiers_csv``: a header row naming any of ``nhs_number``, ``case_reference``,
``ni_number``, then one record a row; re-imported when the file changes). :meth:`known_identifier`
answers whether a file mentions one of them. The values themselves are never stored.

Fingerprints are stored as signed 64-bit integers: values are reduced modulo 2**64, the same
way for documents and queries. Paths are stored locally as bytes; they never leave the laptop.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sqlite3
import stat
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from agent.egress.ignore_rules import is_ignored_path
from agent.egress.scan import walk_files
from caseguard.identifiers import identifier_hash, read_export

logger = logging.getLogger(__name__)

DB_NAME = "protected-index.sqlite3"
SCHEMA_VERSION = "2"  # 2: known-identifier hashes (documents indexed under 1 are analysed again)
KNOWN_FROM_IMPORT = "known-identifier-import"  # the reference a match on the imported export reports
KNOWN_FROM_POLICY = "known-identifier-policy"  # ... and one on the central policy's list of keyed hashes
DEFAULT_BATCH = 1000
_KEY_CHECK_MESSAGE = b"caseguard protected index key check"
_SEP = os.fsencode(os.sep)
_SQL_VARIABLES = 900  # below SQLite's historical 999 limit on bound parameters

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs(
    id INTEGER PRIMARY KEY,
    path BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    ref TEXT NOT NULL,
    fps BLOB NOT NULL,
    seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_sha256 ON docs(sha256);
CREATE TABLE IF NOT EXISTS postings(fp INTEGER NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(fp, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known_ids(h BLOB NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY(h, doc)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS known_ids_doc ON known_ids(doc);
CREATE TABLE IF NOT EXISTS imported_ids(h BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS central_ids(h BLOB PRIMARY KEY) WITHOUT ROWID;
"""


class FactsLike(Protocol):
    """What the index needs from an analysis result (the classifier's ``ProtectedFacts`` has more)."""

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the file's bytes; empty when it could not be read."""
        ...

    @property
    def size(self) -> int:
        """Size in bytes."""
        ...

    @property
    def fingerprints(self) -> frozenset[int]:
        """Content fingerprints."""
        ...


@dataclass(frozen=True)
class ProtectedFacts:
    """What analysing one protected document yields (the minimal ``FactsLike``)."""

    sha256: str
    size: int
    fingerprints: frozenset[int]


Analyse = Callable[[Path], FactsLike]


class FingerprintMatch(NamedTuple):
    """The best fingerprint match: the document's keyed reference and the query's containment in it."""

    ref: str
    containment: float


@dataclass(frozen=True)
class ReconcileStats:
    """What one reconcile walk did. ``complete`` is False when it was stopped early (nothing removed)."""

    seen: int
    added: int
    updated: int
    unchanged: int
    removed: int
    errors: int
    seconds: float
    complete: bool


def _signed64(value: int) -> int:
    value &= 0xFFFF_FFFF_FFFF_FFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def _signed64_array(values: Iterable[int]) -> array[int]:
    """``values`` reduced modulo 2**64 as signed 64-bit integers, each once (in no particular order).

    Values already in [0, 2**64) (all the classifier makes) are distinct when ``values`` is a set, and
    are converted by reinterpreting their bytes, without a Python-level loop."""
    if not isinstance(values, (set, frozenset)):
        values = set(values)  # once: a generator would be empty for the fallback below
    try:
        unsigned = array("Q", values)
    except OverflowError:  # negative or wider than 64 bits: reduce them one by one
        return array("q", {_signed64(value) for value in values})
    if unsigned.itemsize != 8:
        return array("q", {_signed64(value) for value in unsigned})
    return array("q", unsigned.tobytes())


_BEST_MATCH_SQL = (
    "SELECT d.ref, best.shared FROM ("
    "  SELECT p.doc AS doc, COUNT(*) AS shared FROM {query} q CROSS JOIN postings p"
    "  ON p.fp = {fp} GROUP BY p.doc ORDER BY shared DESC, p.doc LIMIT 1"
    ") AS best JOIN docs d ON d.id = best.doc"
)


def _has_json_each(db: sqlite3.Connection) -> bool:
    """Whether this SQLite has the JSON functions (built in since 3.38, optional before) and reads
    64-bit integers from JSON exactly."""
    try:
        extremes = "-9223372036854775808,9223372036854775807"
        row = db.execute("SELECT group_concat(value) FROM json_each(?)", (f"[{extremes}]",)).fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == extremes


class ProtectedIndex:
    """The index (see module doc). Thread-safe: one connection, used under a lock."""

    def __init__(
        self,
        state_dir: Path,
        roots: Sequence[Path],
        org_key: bytes,
        analyse: Analyse,
        *,
        scheme: str = "",
        batch_size: int = DEFAULT_BATCH,
        clock: Callable[[], float] = time.monotonic,
        known_identifiers_csv: Path | None = None,
        central_identifier_hashes: Sequence[str] = (),
    ) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._roots = tuple(os.fsencode(os.path.abspath(r)) for r in roots)
        self._key = org_key
        self._analyse = analyse
        self._batch = max(1, min(batch_size, _SQL_VARIABLES))
        self._clock = clock
        self._csv = known_identifiers_csv
        self._lock = threading.RLock()
        self._db = sqlite3.connect(state_dir / DB_NAME, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-16000")  # 16 MB: fingerprint inserts land all over the tree
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.executescript(_SCHEMA)
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS query_fps(fp INTEGER PRIMARY KEY)")
        self._json_each = _has_json_each(self._db)
        self._check_schema_version()
        self._check_key()
        self._check_scheme(scheme)
        self._load_central(central_identifier_hashes)

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ProtectedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- lookups ------------------------------------------------------------------------------

    def count(self) -> int:
        """How many documents are indexed."""
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM docs").fetchone()
        return int(n)

    def has_fingerprints(self) -> bool:
        """False when no document has fingerprints, so a classifier can skip computing them."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM postings LIMIT 1").fetchone() is not None

    def by_sha256(self, digest: str) -> str | None:
        """The reference of a protected document with exactly this SHA-256 (hex), or None."""
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            return None
        if len(raw) != hashlib.sha256().digest_size:
            return None
        with self._lock:
            row = self._db.execute("SELECT ref FROM docs WHERE sha256 = ? LIMIT 1", (raw,)).fetchone()
        return str(row[0]) if row else None

    def best_fingerprint_match(self, fingerprints: frozenset[int]) -> FingerprintMatch | None:
        """The document holding most of ``fingerprints``, with containment |query ∩ doc| / |query|; None if none."""
        query = _signed64_array(fingerprints)
        if not query:
            return None
        with self._lock:
            if self._json_each:
                # The query as one JSON array parameter: no row-by-row insert into a temporary table.
                row = self._db.execute(_BEST_MATCH_SQL.format(query="json_each(?)", fp="q.value"),
                                       ("[" + ",".join(map(str, query)) + "]",)).fetchone()  # fmt: skip
            else:
                self._db.execute("BEGIN")
                try:
                    self._db.execute("DELETE FROM temp.query_fps")
                    self._db.executemany("INSERT INTO temp.query_fps(fp) VALUES (?)", zip(query))
                    row = self._db.execute(_BEST_MATCH_SQL.format(query="temp.query_fps", fp="q.fp")).fetchone()
                finally:
                    self._db.execute("ROLLBACK")
        if row is None:
            return None
        return FingerprintMatch(str(row[0]), int(row[1]) / len(query))

    def known_identifier(self, values: frozenset[str]) -> str | None:
        """The reference of a protected document holding one of ``values`` (normalised identifiers such as
        ``nhs:9990122407``), ``KNOWN_FROM_IMPORT`` when only the imported export has it, or None."""
        if not values:
            return None
        hashes = [self._id_hash(v) for v in sorted(values)][:_SQL_VARIABLES]
        marks = ",".join("?" * len(hashes))
        with self._lock:
            row = self._db.execute(
                f"SELECT d.ref FROM known_ids k JOIN docs d ON d.id = k.doc WHERE k.h IN ({marks}) "
                "ORDER BY d.ref LIMIT 1", hashes
            ).fetchone()
            if row is not None:
                return str(row[0])
            imported = self._db.execute(f"SELECT 1 FROM imported_ids WHERE h IN ({marks}) LIMIT 1", hashes).fetchone()
            if imported is not None:
                return KNOWN_FROM_IMPORT
            central = self._db.execute(f"SELECT 1 FROM central_ids WHERE h IN ({marks}) LIMIT 1", hashes).fetchone()
        return KNOWN_FROM_POLICY if central is not None else None

    def _load_central(self, hashes: Sequence[str]) -> None:
        """Keep the central policy's keyed identifier hashes (hex, made by the collector from the
        case-management export under the organisation key); replaced only when the list changes."""
        unique = sorted(set(hashes))
        stamp = hashlib.sha256("\n".join(unique).encode()).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'central_stamp'").fetchone()
            if row is not None and row[0] == stamp:
                return
            with self._transaction():
                self._db.execute("DELETE FROM central_ids")
                self._db.executemany("INSERT OR IGNORE INTO central_ids(h) VALUES (?)",
                                     ((bytes.fromhex(h),) for h in unique))  # fmt: skip
                self._set_meta("central_stamp", stamp)
        if unique:
            logger.info("protected index: %d known identifiers from the central policy", len(unique))

    def import_known_identifiers(self) -> int | None:
        """(Re)load ``known_identifiers_csv`` when it changed since the last import; how many identifiers it
        holds, or None when there is none to load or it is unchanged. A file that cannot be read keeps the
        previous import and raises ``ValueError`` naming the line (never a value)."""
        if self._csv is None:
            return None
        try:
            st = os.stat(self._csv)
        except OSError as exc:
            raise ValueError(f"known identifiers CSV {self._csv}: {exc.strerror or exc}") from exc
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'import_stamp'").fetchone()
        if row is not None and row[0] == stamp:
            return None
        values = read_known_identifiers_csv(self._csv)
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM imported_ids")
            self._db.executemany(
                "INSERT OR IGNORE INTO imported_ids(h) VALUES (?)", ((self._id_hash(v),) for v in sorted(values))
            )
            self._set_meta("import_stamp", stamp)
        logger.info("protected index: imported %d known identifiers", len(values))
        return len(values)

    def ref_for(self, path: Path | str) -> str:
        """The keyed reference of a path (what the collector computes to resolve one)."""
        return hmac.new(self._key, os.fsencode(os.path.abspath(path)), hashlib.sha256).hexdigest()

    # -- reconcile ----------------------------------------------------------------------------

    def reconcile(self, stop: threading.Event | None = None) -> ReconcileStats:
        """Walk the roots; analyse new and changed files, drop vanished ones. See the module doc."""
        started = self._clock()
        try:
            self.import_known_identifiers()
        except ValueError as exc:
            logger.error("protected index: %s; the previous import is kept", exc)
        generation = self._next_generation()
        totals = dict(seen=0, added=0, updated=0, unchanged=0, errors=0)
        walked_roots: list[bytes] = []
        complete = True
        for root in self._roots:
            if not _listable(root):  # missing, unmounted or unreadable: never "every file deleted"
                logger.warning("protected index: a store root is unavailable; its documents are kept")
                continue
            walked_roots.append(root)
            complete = self._index(self._walk(root), generation, totals, stop)
            if not complete:
                break
        removed = self._remove_unseen(generation, walked_roots) if complete else 0
        stats = ReconcileStats(removed=removed, seconds=self._clock() - started, complete=complete, **totals)
        logger.info(
            "protected index: reconciled %d files (%d added, %d updated, %d removed, %d errors) in %.1fs",
            stats.seen,
            stats.added,
            stats.updated,
            stats.removed,
            stats.errors,
            stats.seconds,
        )
        return stats

    def note_changed(self, path: Path | str) -> int:
        """A file (or folder) under a root was created or changed: index what changed; returns how many."""
        raw = os.fsencode(os.path.abspath(path))
        if not self._root_of(raw):
            return 0
        totals = dict(seen=0, added=0, updated=0, unchanged=0, errors=0)
        if os.path.isdir(raw):
            items: Iterable[tuple[bytes, int, int]] = self._walk(raw)
        else:
            try:
                st = os.lstat(raw)
            except OSError:
                return 0
            if not stat.S_ISREG(st.st_mode) or is_ignored_path(os.fsdecode(raw), os.fsdecode(self._root_of(raw))):
                return 0
            items = [(raw, st.st_size, st.st_mtime_ns)]
        # No generation here: it is read when writing, so a reconcile running meanwhile keeps these.
        self._index(items, None, totals)
        return totals["added"] + totals["updated"]

    def note_deleted(self, path: Path | str) -> int:
        """A file or folder under a root was deleted (or moved away); returns how many documents went."""
        raw = os.fsencode(os.path.abspath(path))
        prefix = raw.rstrip(_SEP) + _SEP
        upper = prefix[:-1] + bytes([prefix[-1] + 1])
        with self._lock:
            rows = self._db.execute(
                "SELECT id, fps FROM docs WHERE path = ? OR (path >= ? AND path < ?)", (raw, prefix, upper)
            ).fetchall()
            with self._transaction():
                self._delete_docs(rows)
        return len(rows)

    # -- internals ----------------------------------------------------------------------------

    def _walk(self, root: bytes) -> Iterator[tuple[bytes, int, int]]:
        """(path, size, mtime_ns) of the files under ``root``, skipping the same litter egress skips."""
        for path, st in walk_files(os.fsdecode(root)):
            yield os.fsencode(path), st.st_size, st.st_mtime_ns

    def _index(
        self,
        items: Iterable[tuple[bytes, int, int]],
        generation: int | None,
        totals: dict[str, int],
        stop: threading.Event | None = None,
    ) -> bool:
        """Index ``items`` in batches of ``batch_size``; False when ``stop`` cut it short."""
        batch: list[tuple[bytes, int, int]] = []
        for item in items:
            batch.append(item)
            if len(batch) >= self._batch:
                if stop is not None and stop.is_set():
                    return False
                self._apply_batch(batch, generation, totals)
                batch = []
        if stop is not None and stop.is_set():
            return False
        if batch:
            self._apply_batch(batch, generation, totals)
        return True

    def _apply_batch(self, batch: list[tuple[bytes, int, int]], generation: int | None, totals: dict[str, int]) -> None:
        """Analyse what changed in ``batch`` and write it; ``generation`` None means the current one."""
        marks = ",".join("?" * len(batch))
        with self._lock:
            known = {
                row[0]: (row[1], row[2], row[3])
                for row in self._db.execute(
                    f"SELECT path, size, mtime_ns, id FROM docs WHERE path IN ({marks})", [p for p, _, _ in batch]
                )
            }
        unchanged: list[int] = []
        analysed: list[tuple[bytes, int, int, bytes, array[int], list[bytes]]] = []
        for path, size, mtime_ns in batch:
            totals["seen"] += 1
            previous = known.get(path)
            if previous is not None and previous[0] == size and previous[1] == mtime_ns:
                unchanged.append(previous[2])
                continue
            try:  # analysis runs outside the lock: lookups go on while files are read
                facts = self._analyse(Path(os.fsdecode(path)))
                digest = bytes.fromhex(facts.sha256)
                if len(digest) != hashlib.sha256().digest_size:
                    raise ValueError("no usable SHA-256")  # the analyser could not read the file
                fps = array("q", sorted(_signed64_array(facts.fingerprints)))
                ids = sorted({self._id_hash(v) for v in getattr(facts, "identifiers", ())})
            except Exception as exc:  # the analyser is foreign code; one bad file must not stop the walk
                totals["errors"] += 1
                logger.debug("protected index: analysis failed (%s)", type(exc).__name__)
                if previous is not None:
                    unchanged.append(previous[2])  # keep the old facts rather than lose the doc
                continue
            analysed.append((path, size, mtime_ns, digest, fps, ids))
        postings: list[tuple[int, int]] = []
        with self._lock, self._transaction():
            if generation is None:
                generation = self._current_generation()
            # MAX: never mark a document older than a reconcile running concurrently already saw it.
            self._db.executemany(
                "UPDATE docs SET seen = MAX(seen, ?) WHERE id = ?", ((generation, i) for i in unchanged)
            )
            totals["unchanged"] += len(unchanged)
            for path, size, mtime_ns, digest, fps, ids in analysed:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO docs(path, size, mtime_ns, sha256, ref, fps, seen) VALUES (?,?,?,?,?,?,?)",
                    (path, size, mtime_ns, digest, self._ref(path), fps.tobytes(), generation),
                )
                if cursor.rowcount == 1:
                    doc_id = int(cursor.lastrowid or 0)
                    totals["added"] += 1
                else:
                    # Known already (read again under the lock: a watch hook may have changed it meanwhile).
                    doc_id, old_fps = self._db.execute("SELECT id, fps FROM docs WHERE path = ?", (path,)).fetchone()
                    self._delete_postings(doc_id, old_fps)
                    self._db.execute(
                        "UPDATE docs SET size=?, mtime_ns=?, sha256=?, fps=?, seen=MAX(seen, ?) WHERE id=?",
                        (size, mtime_ns, digest, fps.tobytes(), generation, doc_id),
                    )
                    totals["updated"] += 1
                    self._db.execute("DELETE FROM known_ids WHERE doc = ?", (doc_id,))
                postings.extend((fp, doc_id) for fp in fps)
                self._db.executemany(
                    "INSERT OR IGNORE INTO known_ids(h, doc) VALUES (?, ?)", ((h, doc_id) for h in ids)
                )
            # In key order, the batch's inserts touch each page of the inverted table once.
            postings.sort()
            self._db.executemany("INSERT OR IGNORE INTO postings(fp, doc) VALUES (?, ?)", postings)

    def _remove_unseen(self, generation: int, walked_roots: list[bytes]) -> int:
        unavailable = [r for r in self._roots if r not in walked_roots]
        removed = 0
        with self._lock:
            rows = self._db.execute("SELECT id, fps, path FROM docs WHERE seen < ?", (generation,)).fetchall()
            doomed = [(doc_id, fps) for doc_id, fps, path in rows if not any(_within(path, r) for r in unavailable)]
            for start in range(0, len(doomed), self._batch):
                with self._transaction():
                    self._delete_docs(doomed[start : start + self._batch])
                removed += len(doomed[start : start + self._batch])
        return removed

    def _delete_docs(self, rows: Sequence[tuple[int, bytes]]) -> None:
        for doc_id, fps in rows:
            self._delete_postings(doc_id, fps)
        self._db.executemany("DELETE FROM known_ids WHERE doc = ?", ((doc_id,) for doc_id, _ in rows))
        self._db.executemany("DELETE FROM docs WHERE id = ?", ((doc_id,) for doc_id, _ in rows))

    def _delete_postings(self, doc_id: int, packed: bytes) -> None:
        fps = array("q")
        fps.frombytes(packed)
        self._db.executemany("DELETE FROM postings WHERE fp = ? AND doc = ?", ((fp, doc_id) for fp in fps))

    def _id_hash(self, value: str) -> bytes:
        return identifier_hash(self._key, value)

    def _ref(self, path: bytes) -> str:
        return hmac.new(self._key, path, hashlib.sha256).hexdigest()

    def _root_of(self, path: bytes) -> bytes:
        return next((root for root in self._roots if _within(path, root)), b"")

    def _next_generation(self) -> int:
        with self._lock, self._transaction():
            generation = self._current_generation() + 1
            self._set_meta("generation", str(generation))
        return generation

    def _current_generation(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def _check_key(self) -> None:
        """Recompute every reference when the organisation key changed since the last run."""
        check = hmac.new(self._key, _KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
            if row is not None and row[0] == check:
                return
            with self._transaction():
                if row is not None:
                    logger.warning("protected index: organisation key changed; recomputing references")
                    rows = self._db.execute("SELECT id, path FROM docs").fetchall()
                    self._db.executemany("UPDATE docs SET ref = ? WHERE id = ?", ((self._ref(p), i) for i, p in rows))
                    # Identifier hashes are keyed too: analyse every document and the export again.
                    self._db.execute("DELETE FROM known_ids")
                    self._db.execute("DELETE FROM imported_ids")
                    self._db.execute("DELETE FROM meta WHERE key = 'import_stamp'")
                    self._db.execute("UPDATE docs SET mtime_ns = -1")
                self._set_meta("key_check", check)
                self._set_meta("schema_version", SCHEMA_VERSION)

    def _check_schema_version(self) -> None:
        """Analyse every document again when the index was written by an older version (no identifiers)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None or row[0] == SCHEMA_VERSION:
                return
            with self._transaction():
                logger.warning("protected index: format %s -> %s; re-analysing every document", row[0], SCHEMA_VERSION)
                self._db.execute("UPDATE docs SET mtime_ns = -1")
                self._set_meta("schema_version", SCHEMA_VERSION)

    def _check_scheme(self, scheme: str) -> None:
        """Forget every document when the fingerprint scheme changed: old fingerprints never match new ones."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'scheme'").fetchone()
            if row is not None and row[0] == scheme:
                return
            with self._transaction():
                if row is not None:
                    logger.warning("protected index: fingerprint scheme changed; re-indexing everything")
                    self._db.execute("DELETE FROM postings")
                    self._db.execute("DELETE FROM known_ids")
                    self._db.execute("DELETE FROM docs")
                self._set_meta("scheme", scheme)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error (the connection is in autocommit mode)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _listable(root: bytes) -> bool:
    try:
        with os.scandir(root) as entries:
            next(entries, None)
    except OSError:
        return False
    return True


def read_known_identifiers_csv(path: Path) -> set[str]:
    """Normalised identifiers (``nhs:``, ``ref:``, ``ni:``) from a case-management export (see
    ``caseguard.identifiers``; cells are taken as written). ``ValueError`` names the line, never a value."""
    return set(read_export(path, strict=False).values)


def _within(path: bytes, root: bytes) -> bool:
    root = root.rstrip(_SEP) or _SEP
    return path == root or path.startswith(root if root.endswith(_SEP) else root + _SEP)
