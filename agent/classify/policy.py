"""The classifier's settings: one frozen object with documented defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agent.classify.fingerprint import DEFAULT_SCHEME, FingerprintScheme
from agent.classify.labels import ALL_MARKINGS, DEFAULT_SENSITIVE_LABELS
from agent.classify.limits import DEFAULT_LIMITS, Limits
from agent.classify.vocabulary import DEFAULT_VOCABULARY


@dataclass(frozen=True)
class ClassifierPolicy:
    """How the classifier decides. Every field has a default fit for a children's services laptop."""

    reference_patterns: tuple[str, ...] = ()
    """Regexes for the organisation's case references, e.g. ``r"\\bCS-\\d{6}\\b"``. None by default: each
    council's case-management system numbers cases differently. Matched against UTF-8 bytes."""
    label_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Sensitivity label GUID or name -> our label name, over ``sensitive_label_names``: it adds labels
    (GUIDs are per tenant, so only names have defaults), renames them, and maps a name to "" to ignore it."""
    sensitive_label_names: tuple[str, ...] = DEFAULT_SENSITIVE_LABELS
    """Label names that count in any tenant (matched ignoring case and punctuation)."""
    vocabulary: Mapping[str, float] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_VOCABULARY)))
    """Case vocabulary: ``"concept|variant|..." -> weight`` (see vocabulary.DEFAULT_VOCABULARY)."""
    content_threshold: float = 0.5
    """Content score (0..1) at or above which identifiers-in-context make a case file."""
    fingerprint_threshold: float = 0.5
    """Containment (share of the file's fingerprints found in one protected document) that makes a match."""
    min_fingerprints: int = 8
    """Fewer fingerprints than this (a dozen words or so) is too little text to match on."""
    markings: frozenset[str] = frozenset(ALL_MARKINGS)
    """Protective markings that count as a reason on their own."""
    limits: Limits = DEFAULT_LIMITS
    """Resource bounds for one file."""
    fingerprint_scheme: FingerprintScheme = DEFAULT_SCHEME
    """Must equal the scheme the protected-store index was built with."""

    def vocabulary_items(self) -> tuple[tuple[str, float], ...]:
        """The vocabulary as a hashable tuple (for compiled-rule caching)."""
        return tuple((term, float(weight)) for term, weight in self.vocabulary.items())


DEFAULT_POLICY = ClassifierPolicy()
