"""The verdict on one file, how evidence becomes a verdict, and how an archive's member verdicts combine."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agent.classify.content import ContentFindings
from agent.classify.errors import UNJUDGED_REASONS
from agent.classify.policy import ClassifierPolicy

REASON_ORDER = ("exact", "fingerprint", "known_identifier", "label", "marking", "content")

# Confidence each reason carries on its own (content and fingerprint scale with their scores).
EXACT_CONFIDENCE = 1.0
LABEL_CONFIDENCE = 0.9
# An NHS number, NI number or case reference that a protected document (or the case-management export)
# holds: exact data, strong even without case vocabulary around it.
KNOWN_IDENTIFIER_CONFIDENCE = 0.85
MARKING_CONFIDENCE = 0.6
FINGERPRINT_FLOOR = 0.7  # confidence = floor + (1 - floor) * containment
# A file that is not judged a case file reports at most this confidence.
NEGATIVE_CEILING = 0.49


@dataclass(frozen=True)
class Verdict:
    """Whether one file is a case file, why, and how sure we are.

    ``confidence`` is 0..1 that the file is a case file: at least 0.5 when ``case_file`` is true, below it
    otherwise. ``reasons`` are drawn from ``REASON_ORDER``. ``error``
    names an extraction problem (the verdict then rests on what could be read). ``sha256`` is lower-case
    hex, empty when the file could not be hashed; ``extension`` is lower case without the dot.
    """

    case_file: bool
    confidence: float
    reasons: tuple[str, ...]
    identifier_counts: Mapping[str, int]
    labels: tuple[str, ...]
    markings: tuple[str, ...]
    matched_ref: str | None
    sha256: str
    size: int
    extension: str
    error: str | None

    @property
    def uninspectable(self) -> bool:
        """True when the file is not judged a case file only because it could not be (fully) read."""
        return not self.case_file and self.error in UNJUDGED_REASONS

    def to_uninspectable_body(self, sha256_hmac: str) -> dict[str, Any]:
        """The file fields of the ``UninspectableFile`` event body (events.proto), without reveal-names fields."""
        return {
            "extension": self.extension,
            "size_bytes": self.size,
            "reason": self.error or "",
            "sha256_hmac": sha256_hmac,
        }

    def as_json_object(self, path: str) -> dict[str, Any]:
        """The fields ``caseguard-agent classify --json`` prints for ``path``, as a JSON-ready dict."""
        return {
            "path": path,
            "case_file": self.case_file,
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "error": self.error,
            "identifier_counts": dict(self.identifier_counts),
            "labels": list(self.labels),
            "markings": list(self.markings),
            "protected_ref": self.matched_ref,
            "sha256": self.sha256,
            "size": self.size,
            "extension": self.extension,
        }

    def to_json(self, path: str) -> str:
        """One line of JSON for ``path`` (see ``as_json_object``)."""
        return json.dumps(self.as_json_object(path), ensure_ascii=False, separators=(",", ":"))

    def to_match_body(self, sha256_hmac: str) -> dict[str, Any]:
        """The ``CaseFileMatch`` event body (protos/caseguard/v1/events.proto) without the reveal-names fields.

        ``sha256_hmac`` is HMAC-SHA256(org key, ``self.sha256``), made by the caller who holds the key.
        """
        return {
            "extension": self.extension,
            "size_bytes": self.size,
            "sha256_hmac": sha256_hmac,
            "reasons": list(self.reasons),
            "confidence": self.confidence,
            "identifier_counts": dict(self.identifier_counts),
            "labels": list(self.labels),
            "markings": list(self.markings),
            "protected_ref": self.matched_ref or "",
            "error": self.error or "",
        }


@dataclass(frozen=True)
class Evidence:
    """Everything found about one document, before policy turns it into a verdict."""

    exact_ref: str | None = None
    fingerprint_match: tuple[str, float] | None = None
    fingerprint_count: int = 0
    known_ref: str | None = None
    content: ContentFindings = field(default_factory=ContentFindings)
    labels: tuple[str, ...] = ()
    markings: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileFacts:
    """The identity of the file a verdict is about."""

    sha256: str
    size: int
    extension: str
    error: str | None = None


def _noisy_or(values: Sequence[float]) -> float:
    miss = 1.0
    for v in values:
        miss *= 1.0 - max(0.0, min(1.0, v))
    return 1.0 - miss


def decide(evidence: Evidence, policy: ClassifierPolicy, facts: FileFacts) -> Verdict:
    """Apply ``policy`` to ``evidence``: each passing reason adds confidence (noisy-OR); any one suffices."""
    reasons: dict[str, float] = {}
    matched_ref = evidence.exact_ref
    if evidence.exact_ref is not None:
        reasons["exact"] = EXACT_CONFIDENCE
    containment = 0.0
    if evidence.fingerprint_match is not None and evidence.fingerprint_count >= policy.min_fingerprints:
        ref, containment = evidence.fingerprint_match
        if containment >= policy.fingerprint_threshold:
            reasons["fingerprint"] = FINGERPRINT_FLOOR + (1.0 - FINGERPRINT_FLOOR) * containment
            matched_ref = matched_ref or ref
    if evidence.known_ref is not None:
        reasons["known_identifier"] = KNOWN_IDENTIFIER_CONFIDENCE
        matched_ref = matched_ref or evidence.known_ref
    if evidence.labels:
        reasons["label"] = LABEL_CONFIDENCE
    if any(m in policy.markings for m in evidence.markings):
        reasons["marking"] = MARKING_CONFIDENCE
    score = evidence.content.score
    if score >= policy.content_threshold:
        reasons["content"] = score
    if reasons:
        confidence = max(0.5, _noisy_or(list(reasons.values())))
    else:
        nearest = max(
            score / policy.content_threshold if policy.content_threshold > 0 else 0.0,
            containment / policy.fingerprint_threshold if policy.fingerprint_threshold > 0 else 0.0,
        )
        confidence = NEGATIVE_CEILING * min(1.0, nearest)
    return Verdict(
        case_file=bool(reasons),
        confidence=confidence,
        reasons=tuple(r for r in REASON_ORDER if r in reasons),
        identifier_counts=evidence.content.identifier_counts,
        labels=evidence.labels,
        markings=evidence.markings,
        matched_ref=matched_ref,
        sha256=facts.sha256,
        size=facts.size,
        extension=facts.extension,
        error=facts.error,
    )


def merge_archive(archive: Verdict, members: Sequence[Verdict]) -> Verdict:
    """One verdict for an archive (or an email) from its own verdict and its members' (attachments') verdicts.

    A case file anywhere inside makes the archive one; counts add up; the first error is kept.
    """
    everything = [archive, *members]
    reasons = {r for v in everything for r in v.reasons}
    counts: Counter[str] = Counter()
    for v in everything:  # an archive's own verdict has none; an email's body has its own
        counts.update(v.identifier_counts)
    error = next((v.error for v in everything if v.error), None)
    matched = next((v.matched_ref for v in everything if v.matched_ref), None)
    return Verdict(
        case_file=any(v.case_file for v in everything),
        confidence=max(v.confidence for v in everything),
        reasons=tuple(r for r in REASON_ORDER if r in reasons),
        identifier_counts=MappingProxyType(dict(counts)),
        labels=tuple(sorted({label for v in everything for label in v.labels})),
        markings=tuple(m for m in _marking_order(everything)),
        matched_ref=matched,
        sha256=archive.sha256,
        size=archive.size,
        extension=archive.extension,
        error=error,
    )


def _marking_order(verdicts: Sequence[Verdict]) -> list[str]:
    seen: dict[str, None] = {}
    for v in verdicts:
        for m in v.markings:
            seen.setdefault(m, None)
    return list(seen)
