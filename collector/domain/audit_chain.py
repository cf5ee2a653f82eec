"""A hash-chained audit log: each entry's hash covers its content and the previous hash.

An entry is (seq, at, actor, action, subject, details as canonical JSON, prev_hash); its
hash is SHA-256 over a canonical JSON array of those values. ``verify`` recomputes every
hash and link and reports entries that were edited, reordered, deleted or inserted.

What a chain alone cannot show: removal of entries from the end, or a wholesale rewrite
of every later entry, since whoever can write the rows can write the head row too. So a
``Checkpoint`` (seq, hash, time), signed and kept off the database host, is checked with
``verify_against``. Storage and signing are the caller's.
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
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain does not extend a signed checkpoint


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


@dataclass(frozen=True)
class Checkpoint:
    """Where the chain stood at one moment: its last entry's seq and hash, and when.

    Kept off the database host (a file, a notification), a checkpoint turns the chain's
    blind spots into problems ``verify_against`` reports: a chain that no longer reaches
    ``seq`` was truncated or wiped; one whose entry ``seq`` has another hash was rewritten.
    """

    seq: int
    hash: str
    at: datetime

    def payload(self) -> str:
        """The canonical text a checkpoint signature covers."""
        return canonical_json({"format": CHECKPOINT_FORMAT, "seq": self.seq, "hash": self.hash, "at": iso_utc(self.at)})


CHECKPOINT_FORMAT = "caseguard-audit-checkpoint/1"


def checkpoint_of(entries: Sequence[ChainEntry], at: datetime) -> Checkpoint:
    """A checkpoint at the end of ``entries`` (an empty chain checkpoints at seq 0)."""
    if not entries:
        return Checkpoint(0, GENESIS_HASH, require_utc(at, "at"))
    return Checkpoint(entries[-1].seq, entries[-1].hash, require_utc(at, "at"))


def verify_against(entries: Sequence[ChainEntry], checkpoint: Checkpoint) -> list[ChainProblem]:
    """Problems showing that ``entries`` do not extend ``checkpoint`` (empty when they do).

    Run with ``verify``: this checks only that the checkpointed entry is still there, unchanged.
    """
    if checkpoint.seq == 0:
        return []
    for index, e in enumerate(entries):
        if e.seq == checkpoint.seq:
            if e.hash != checkpoint.hash:
                return [ChainProblem(index, e.seq, ProblemKind.CHECKPOINT_MISMATCH,
                                     f"entry {e.seq} is not the one checkpointed at {iso_utc(checkpoint.at)}: "
                                     "the chain was rewritten from there or earlier")]
            return []
    last = entries[-1].seq if entries else 0
    return [ChainProblem(len(entries) - 1, last, ProblemKind.CHECKPOINT_MISMATCH,
                         f"the chain ends at entry {last}, before entry {checkpoint.seq} checkpointed at "
                         f"{iso_utc(checkpoint.at)}: entries were removed")]
