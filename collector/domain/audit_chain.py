"""A hash-chained audit log: each entry's hash covers its content and the previous hash.

An entry is (seq, at, actor, action, subject, details as canonical JSON, prev_hash); its
hash is SHA-256 over a canonical JSON array of those values. ``verify`` recomputes every
hash and link and reports entries that were edited, reordered, deleted or inserted.

What a chain alone cannot show: removal of entries from the end, or a wholesale rewrite
of every later entry. Keep the latest (seq, hash) somewhere else too (a backup, a daily
notification) and pass it to ``verify`` as ``expected_head``. Storage is the caller's.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from collector.domain.canonical_json import JsonValue, canonical_json, is_canonical
from collector.domain.instants import iso_utc, require_utc

GENESIS_HASH = "0" * 64
CHAIN_VERSION = 1


@dataclass(frozen=True)
class ChainEntry:
    """One audit entry as stored. ``details_json`` is canonical JSON text."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details_json: str
    prev_hash: str
    hash: str


def entry_hash(seq: int, at: datetime, actor: str, action: str, subject: str, details_json: str, prev_hash: str) -> str:
    """SHA-256 (hex) over the canonical encoding of an entry's content and the previous hash."""
    payload: JsonValue = [CHAIN_VERSION, seq, iso_utc(at), actor, action, subject, details_json, prev_hash]
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def append_entry(
    previous: ChainEntry | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, JsonValue],
) -> ChainEntry:
    """The entry that follows ``previous`` (or starts a chain when None)."""
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    when = require_utc(at, "at")
    details_json = canonical_json(dict(details))
    digest = entry_hash(seq, when, actor, action, subject, details_json, prev_hash)
    return ChainEntry(seq, when, actor, action, subject, details_json, prev_hash, digest)


class ProblemKind(enum.StrEnum):
    """What is wrong at one place in a chain."""

    EDITED = "edited"  # content does not match the entry's own hash
    BROKEN_LINK = "broken_link"  # prev_hash is not the hash of the entry before it
    SEQ_GAP = "seq_gap"  # sequence numbers skip: entries deleted
    SEQ_OUT_OF_ORDER = "seq_out_of_order"  # sequence goes backwards or repeats: reordered or inserted
    NOT_CANONICAL = "not_canonical"  # details are not canonical JSON
    HEAD_MISMATCH = "head_mismatch"  # the last entry is not the head recorded elsewhere


@dataclass(frozen=True)
class ChainProblem:
    """One problem found by ``verify``: at which position and entry, and what."""

    index: int
    seq: int
    kind: ProblemKind
    message: str


def verify(
    entries: Sequence[ChainEntry],
    *,
    previous: ChainEntry | None = None,
    expected_head: tuple[int, str] | None = None,
) -> list[ChainProblem]:
    """Every problem in ``entries`` (empty when the chain is intact).

    ``previous`` is the trusted entry just before ``entries`` when verifying a later segment;
    ``expected_head`` is the (seq, hash) of the last entry as recorded elsewhere.
    """
    problems: list[ChainProblem] = []
    prior_seq = 0 if previous is None else previous.seq
    prior_hash = GENESIS_HASH if previous is None else previous.hash
    for index, e in enumerate(entries):
        found: list[tuple[ProblemKind, str]] = []
        if not is_canonical(e.details_json):
            found.append((ProblemKind.NOT_CANONICAL, "details are not canonical JSON"))
        try:
            recomputed = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details_json, e.prev_hash)
        except ValueError as exc:
            found.append((ProblemKind.EDITED, f"entry cannot be hashed: {exc}"))
        else:
            if recomputed != e.hash:
                found.append((ProblemKind.EDITED, "content does not match its hash"))
        if e.prev_hash != prior_hash:
            found.append((ProblemKind.BROKEN_LINK, "does not link to the entry before it"))
        if e.seq > prior_seq + 1:
            found.append((ProblemKind.SEQ_GAP, f"entries {prior_seq + 1}..{e.seq - 1} are missing"))
        elif e.seq <= prior_seq:
            found.append((ProblemKind.SEQ_OUT_OF_ORDER, f"seq {e.seq} follows seq {prior_seq}"))
        problems += [ChainProblem(index, e.seq, kind, message) for kind, message in found]
        prior_seq, prior_hash = e.seq, e.hash
    if expected_head is not None:
        head = (entries[-1].seq, entries[-1].hash) if entries else None
        if head != expected_head:
            index = len(entries) - 1
            problems.append(
                ChainProblem(
                    index, head[0] if head else 0, ProblemKind.HEAD_MISMATCH, "chain does not end at the recorded head"
                )
            )
    return problems
