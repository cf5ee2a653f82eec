"""Content evidence: validated identifiers weighed by the case vocabulary around them.

Pure. Identifiers alone (an invoice full of ten-digit numbers) or vocabulary alone (public guidance
that talks about NHS numbers and care plans) score low; both together score high.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agent.classify.identifiers import (
    IdentifierHits,
    compile_reference,
    find_dates_of_birth,
    find_nhs_numbers,
    find_ni_numbers,
    find_references,
    shape_of,
)
from agent.classify.vocabulary import Vocabulary, compile_vocabulary, find_concepts, normalise_words

# Identifier kind -> (strength of the first distinct value, added per further value, cap).
IDENTIFIER_WEIGHTS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "nhs_number": (0.45, 0.15, 0.75),
        "ni_number": (0.4, 0.15, 0.7),
        "case_reference": (0.6, 0.15, 0.85),
        "date_of_birth": (0.2, 0.1, 0.4),
    }
)
# Weighted concept total at which the vocabulary is fully convincing.
VOCABULARY_SATURATION = 3.0
# Share of the score identifiers earn with no case vocabulary at all.
IDENTIFIERS_ALONE = 0.35
# Many NHS-shaped numbers of which few pass the checksum are some other numbering (about 9 % of random
# ten-digit numbers pass): then none count.
_RANDOM_CANDIDATES = 5
_RANDOM_VALID_SHARE = 0.5


@dataclass(frozen=True)
class ContentRules:
    """Compiled reference patterns and vocabulary (build with ``content_rules``)."""

    reference_patterns: tuple[tuple[re.Pattern[bytes], bool], ...]
    vocabulary: Vocabulary


@functools.lru_cache(maxsize=32)
def content_rules(reference_patterns: tuple[str, ...], vocabulary: tuple[tuple[str, float], ...]) -> ContentRules:
    """Compile reference regexes (as bytes patterns) and vocabulary once per distinct policy."""
    return ContentRules(
        reference_patterns=tuple(compile_reference(p) for p in reference_patterns),
        vocabulary=compile_vocabulary(dict(vocabulary)),
    )


@dataclass(frozen=True)
class ContentFindings:
    """What the content scan found and how strongly it points at a case file (``score`` 0..1)."""

    identifier_counts: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    concepts: tuple[str, ...] = ()
    identifier_strength: float = 0.0
    vocabulary_strength: float = 0.0
    score: float = 0.0
    values: frozenset[str] = frozenset()
    """The identifiers themselves, normalised (see ``identifier_values``), for the known-identifier lookup
    only: they never leave the classifier (verdicts carry counts)."""


def identifier_values(hits: IdentifierHits) -> frozenset[str]:
    """``nhs:<10 digits>``, ``ni:<9 characters>`` and ``ref:<reference>`` for each identifier found."""
    return frozenset(
        [f"nhs:{v}" for v in hits.nhs_numbers]
        + [f"ni:{v}" for v in hits.ni_numbers]
        + [f"ref:{v}" for v in hits.case_references]
    )


def identifier_counts(hits: IdentifierHits) -> dict[str, int]:
    """Distinct identifiers per kind, leaving out NHS-shaped numbers that look like another numbering."""
    nhs = len(hits.nhs_numbers)
    if hits.nhs_candidates >= _RANDOM_CANDIDATES and nhs < _RANDOM_VALID_SHARE * hits.nhs_candidates:
        nhs = 0
    counts = {
        "nhs_number": nhs,
        "ni_number": len(hits.ni_numbers),
        "case_reference": len(hits.case_references),
        "date_of_birth": len(hits.dates_of_birth),
    }
    return {kind: n for kind, n in counts.items() if n}


def identifier_strength(counts: Mapping[str, int]) -> float:
    """Combined strength of identifier evidence, 0..1 (noisy-OR over kinds)."""
    miss = 1.0
    for kind, n in counts.items():
        first, step, cap = IDENTIFIER_WEIGHTS.get(kind, (0.0, 0.0, 0.0))
        if n > 0:
            miss *= 1.0 - min(cap, first + step * (n - 1))
    return 1.0 - miss


def content_score(id_strength: float, vocabulary_strength: float) -> float:
    """Identifiers scaled by the vocabulary: full marks need both."""
    return id_strength * (IDENTIFIERS_ALONE + (1.0 - IDENTIFIERS_ALONE) * vocabulary_strength)


def scan_content(text: str, rules: ContentRules) -> ContentFindings:
    """Scan ``text`` for identifiers and case vocabulary and score it."""
    data = text.encode("utf-8", "replace")
    shape = shape_of(data)
    lowered = data.lower()
    nhs, candidates = find_nhs_numbers(data, shape)
    hits = IdentifierHits(
        nhs_numbers=nhs,
        nhs_candidates=candidates,
        ni_numbers=find_ni_numbers(data, shape),
        case_references=find_references(data, rules.reference_patterns),
        dates_of_birth=find_dates_of_birth(lowered),
    )
    concepts = find_concepts(normalise_words(data), rules.vocabulary)
    counts = identifier_counts(hits)
    id_strength = identifier_strength(counts)
    vocabulary_strength = min(1.0, sum(concepts.values()) / VOCABULARY_SATURATION)
    return ContentFindings(
        identifier_counts=MappingProxyType(counts),
        concepts=tuple(sorted(concepts)),
        identifier_strength=id_strength,
        vocabulary_strength=vocabulary_strength,
        score=content_score(id_strength, vocabulary_strength),
        values=identifier_values(hits),
    )
