"""Facts about protected documents and the lookup the classifier asks about them.

The protected-store index is built elsewhere; it implements ``ProtectedLookup``. ``InMemoryLookup`` serves
tests and the command line without an index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Protocol


@dataclass(frozen=True)
class ProtectedFacts:
    """What the index keeps about one protected file (see ``classifier.analyse_protected``)."""

    sha256: str
    size: int
    fingerprints: frozenset[int]
    scheme: str
    """``FingerprintScheme.name`` the fingerprints were made with."""
    error: str | None = None
    """Why extraction was partial, if it was (fingerprints may then be few or none)."""
    identifiers: frozenset[str] = frozenset()
    """NHS numbers, NI numbers and case references in the document (and case references in its folder
    names), normalised as ``content.identifier_values`` makes them. The index keeps only keyed hashes."""


KNOWN_FROM_IMPORT = "known-identifier-import"
"""The reference a known-identifier match reports when the identifier came from the case-management
export rather than a protected document."""


class ProtectedLookup(Protocol):
    """Questions the classifier asks the protected-store index. Implementations must be thread-safe for reads."""

    def by_sha256(self, digest: str) -> str | None:
        """The reference of the protected document whose SHA-256 (lower-case hex) is ``digest``, if any."""
        ...

    def best_fingerprint_match(self, fingerprints: frozenset[int]) -> tuple[str, float] | None:
        """The protected document holding the largest share of ``fingerprints``, and that share (0..1)."""
        ...

    def has_fingerprints(self) -> bool:
        """False when no protected fingerprints exist, so the classifier can skip computing them."""
        ...

    def known_identifier(self, values: frozenset[str]) -> str | None:
        """The reference of a protected document (or ``KNOWN_FROM_IMPORT``) holding one of ``values``."""
        ...


class InMemoryLookup:
    """A ``ProtectedLookup`` over dictionaries, with an inverted fingerprint index."""

    def __init__(
        self,
        digests: Mapping[str, str] | None = None,
        fingerprints: Mapping[str, Iterable[int]] | None = None,
    ) -> None:
        """``digests``: sha256 -> reference; ``fingerprints``: reference -> fingerprint set."""
        self._digests: dict[str, str] = {k.lower(): v for k, v in (digests or {}).items()}
        self._identifiers: dict[str, str] = {}
        self._postings: dict[int, list[str]] = {}
        for ref, fps in (fingerprints or {}).items():
            self._add_fingerprints(ref, fps)

    def _add_fingerprints(self, ref: str, fps: Iterable[int]) -> None:
        for fp in set(fps):
            self._postings.setdefault(fp, []).append(ref)

    def add(self, ref: str, facts: ProtectedFacts) -> None:
        """Index one protected document under ``ref``."""
        if facts.sha256:
            self._digests[facts.sha256.lower()] = ref
        self._add_fingerprints(ref, facts.fingerprints)
        for value in facts.identifiers:
            self._identifiers.setdefault(value, ref)

    def add_known(self, values: Iterable[str], ref: str = KNOWN_FROM_IMPORT) -> None:
        """Know ``values`` (normalised identifiers) without a document, as an imported export does."""
        for value in values:
            self._identifiers.setdefault(value, ref)

    def known_identifier(self, values: frozenset[str]) -> str | None:
        """See ``ProtectedLookup.known_identifier``."""
        return next((self._identifiers[v] for v in sorted(values) if v in self._identifiers), None)

    def by_sha256(self, digest: str) -> str | None:
        """See ``ProtectedLookup.by_sha256``."""
        return self._digests.get(digest.lower())

    def best_fingerprint_match(self, fingerprints: frozenset[int]) -> tuple[str, float] | None:
        """See ``ProtectedLookup.best_fingerprint_match``."""
        if not fingerprints or not self._postings:
            return None
        # C-level throughout: the dictionary view intersection walks the query once, Counter counts the refs.
        shared = self._postings.keys() & fingerprints
        if not shared:
            return None
        hits = Counter(chain.from_iterable(map(self._postings.__getitem__, shared)))
        ref, count = min(hits.items(), key=lambda item: (-item[1], item[0]))
        return ref, count / len(fingerprints)

    def has_fingerprints(self) -> bool:
        """See ``ProtectedLookup.has_fingerprints``."""
        return bool(self._postings)


EMPTY_LOOKUP = InMemoryLookup()
