"""The classifier's entry points: judge one file (or its bytes), and analyse a protected file for the index."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import PurePath

from agent.classify.archive import ArchiveMember, iter_members
from agent.classify.content import content_rules, identifier_values, scan_content
from agent.classify.document import ExtractedDocument
from agent.classify.errors import FATAL_REASONS, ExtractionError
from agent.classify.extract import extract
from agent.classify.filereader import read_and_hash
from agent.classify.fingerprint import DEFAULT_SCHEME, FingerprintScheme, fingerprints
from agent.classify.identifiers import (
    IdentifierHits,
    compile_reference,
    find_nhs_numbers,
    find_ni_numbers,
    find_references,
    shape_of,
)
from agent.classify.labels import find_labels, find_markings
from agent.classify.limits import DEFAULT_LIMITS, Budget, Limits
from agent.classify.policy import DEFAULT_POLICY, ClassifierPolicy
from agent.classify.protected import EMPTY_LOOKUP, ProtectedFacts, ProtectedLookup
from agent.classify.verdict import Evidence, FileFacts, Verdict, decide, merge_archive
from agent.sandbox.job import HeavyReader

Clock = Callable[[], float]


def file_extension(path: str | os.PathLike[str]) -> str:
    """Lower-case extension of ``path`` without the dot ('' if none)."""
    return PurePath(path).suffix[1:].lower()


def classify_file(
    path: str | os.PathLike[str],
    policy: ClassifierPolicy = DEFAULT_POLICY,
    lookup: ProtectedLookup = EMPTY_LOOKUP,
    *,
    clock: Clock = time.monotonic,
    reader: HeavyReader | None = None,
) -> Verdict:
    """Judge the file at ``path``. Reads it once (bounded, hashed as it streams) and never raises for
    anything about the file: unreadable, hostile or broken files come back as verdicts with ``error`` set.
    PDFs and images are read by ``reader`` (the sandboxed extraction worker when None).
    """
    budget = Budget(policy.limits, clock, reader)
    extension = file_extension(path)
    read = read_and_hash(path, budget)
    if not read.data and read.error is not None:
        return decide(Evidence(), policy, FileFacts(read.sha256, read.size, extension, read.error))
    return _classify(
        read.data, extension, policy, lookup, budget, depth=0, sha256=read.sha256, size=read.size,
        complete=read.complete, read_error=read.error,
    )


def classify_bytes(
    data: bytes,
    extension: str,
    policy: ClassifierPolicy = DEFAULT_POLICY,
    lookup: ProtectedLookup = EMPTY_LOOKUP,
    *,
    clock: Clock = time.monotonic,
    reader: HeavyReader | None = None,
) -> Verdict:
    """Judge ``data`` as if it were a file with ``extension`` (lower case, no dot); never raises."""
    budget = Budget(policy.limits, clock, reader)
    if len(data) > policy.limits.max_read_bytes:
        data_kept, complete = data[: policy.limits.max_read_bytes], False
    else:
        data_kept, complete = data, True
    return _classify(
        data_kept, extension.lower().lstrip("."), policy, lookup, budget, depth=0,
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), complete=complete,
        read_error=None if complete else "too-large",
    )


def _classify(
    data: bytes, extension: str, policy: ClassifierPolicy, lookup: ProtectedLookup, budget: Budget, *,
    depth: int, sha256: str, size: int, complete: bool, read_error: str | None,
) -> Verdict:
    exact = lookup.by_sha256(sha256) if sha256 else None
    extraction = extract(data, extension, budget, complete=complete)
    if extraction.is_archive:
        own = decide(Evidence(exact_ref=exact), policy, FileFacts(sha256, size, extension, read_error))
        return merge_archive(own, _classify_members(data, policy, lookup, budget, depth + 1))
    evidence = document_evidence(extraction.document, policy, lookup, exact_ref=exact)
    own = decide(evidence, policy, FileFacts(sha256, size, extension, read_error or extraction.error))
    if not extraction.attachments:
        return own
    if depth + 1 > policy.limits.max_depth:
        return merge_archive(own, [decide(Evidence(), policy, FileFacts("", 0, "", "zip-depth-exceeded"))])
    members = iter(extraction.attachments)
    return merge_archive(own, _classify_members(members, policy, lookup, budget, depth + 1))


def _classify_members(
    data: bytes | Iterator[ArchiveMember], policy: ClassifierPolicy, lookup: ProtectedLookup, budget: Budget,
    depth: int,
) -> list[Verdict]:
    """Verdicts on an archive's members (``data`` the archive's bytes) or on attachments already read."""
    verdicts: list[Verdict] = []
    members = iter_members(data, depth, budget) if isinstance(data, bytes) else data
    try:
        for member in members:
            if member.error is not None:
                verdicts.append(decide(Evidence(), policy, FileFacts("", 0, member.extension, member.error)))
                continue
            verdict = _classify(
                member.data, member.extension, policy, lookup, budget, depth=depth,
                sha256=hashlib.sha256(member.data).hexdigest(), size=len(member.data), complete=True,
                read_error=None,
            )
            verdicts.append(verdict)
            if verdict.error in FATAL_REASONS:
                break
    except ExtractionError as exc:
        verdicts.append(decide(Evidence(), policy, FileFacts("", 0, "", exc.reason)))
    return verdicts


def document_evidence(
    document: ExtractedDocument, policy: ClassifierPolicy, lookup: ProtectedLookup, *, exact_ref: str | None = None
) -> Evidence:
    """Everything the policy weighs, found in one extracted document."""
    rules = content_rules(policy.reference_patterns, policy.vocabulary_items())
    # Headers and footers are not part of the body; the edges are, so they are not scanned twice.
    content = scan_content(document.zones + "\n" + document.body, rules)
    match = None
    count = 0
    if lookup.has_fingerprints():
        fps = fingerprints(document.body, policy.fingerprint_scheme)
        count = len(fps)
        if count >= policy.min_fingerprints:
            match = lookup.best_fingerprint_match(fps)
    return Evidence(
        exact_ref=exact_ref,
        fingerprint_match=match,
        fingerprint_count=count,
        known_ref=lookup.known_identifier(content.values) if content.values else None,
        content=content,
        labels=find_labels(
            document.properties, document.label_entries, policy.label_map, policy.sensitive_label_names
        ),
        markings=find_markings(document.zones, document.edges),
    )


def analyse_protected(
    path: str | os.PathLike[str],
    limits: Limits = DEFAULT_LIMITS,
    *,
    scheme: FingerprintScheme = DEFAULT_SCHEME,
    reference_patterns: tuple[str, ...] = (),
    clock: Clock = time.monotonic,
    reader: HeavyReader | None = None,
) -> ProtectedFacts:
    """SHA-256, size, fingerprints and identifiers of a protected file, for the protected-store index;
    never raises.

    Archives and emails contribute the union of their members'. ``scheme`` must match the classifier
    policy's ``fingerprint_scheme``; ``reference_patterns`` its case-reference patterns, which are also
    looked for in the names of the folders holding the file (case folders are often named by reference).
    """
    budget = Budget(limits, clock, reader)
    read = read_and_hash(path, budget)
    gathered = _Gathered(scheme, tuple(compile_reference(p) for p in reference_patterns))
    gathered.add_identifiers(os.fsdecode(PurePath(path).parent), names_only=True)
    error = read.error
    if read.data:
        error = _gather(read.data, file_extension(path), budget, gathered, depth=0, complete=read.complete) or error
    return ProtectedFacts(
        read.sha256, read.size, frozenset(gathered.fps), scheme.name, error, frozenset(gathered.ids)
    )


class _Gathered:
    """What analysing a protected file collects across its members."""

    def __init__(self, scheme: FingerprintScheme, patterns: tuple[tuple[re.Pattern[bytes], bool], ...]) -> None:
        self.scheme = scheme
        self.patterns = patterns
        self.fps: set[int] = set()
        self.ids: set[str] = set()

    def add_identifiers(self, text: str, *, names_only: bool = False) -> None:
        data = text.encode("utf-8", "replace")
        if names_only:
            self.ids.update(f"ref:{r}" for r in find_references(data, self.patterns))
            return
        shape = shape_of(data)
        nhs, _ = find_nhs_numbers(data, shape)
        self.ids.update(identifier_values(IdentifierHits(
            nhs_numbers=nhs, nhs_candidates=0, ni_numbers=find_ni_numbers(data, shape),
            case_references=find_references(data, self.patterns), dates_of_birth=frozenset(),
        )))

    def add_document(self, body: str, zones: str) -> None:
        self.fps.update(fingerprints(body, self.scheme))
        self.add_identifiers(zones + "\n" + body)


def _gather(
    data: bytes, extension: str, budget: Budget, into: _Gathered, *, depth: int, complete: bool,
) -> str | None:
    extraction = extract(data, extension, budget, complete=complete)
    if not extraction.is_archive:
        into.add_document(extraction.document.body, extraction.document.zones)
        if not extraction.attachments or depth + 1 > budget.limits.max_depth:
            return extraction.error
    error: str | None = extraction.error if not extraction.is_archive else None
    members = iter(extraction.attachments) if not extraction.is_archive else iter_members(data, depth + 1, budget)
    try:
        for member in members:
            member_error = member.error or _gather(
                member.data, member.extension, budget, into, depth=depth + 1, complete=True
            )
            error = error or member_error
            if member_error in FATAL_REASONS:
                break
    except ExtractionError as exc:
        error = error or exc.reason
    return error
