"""Document fingerprints: word k-grams winnowed MOSS-style, stable across processes and machines.

Pure. Text is normalised (NFKC, case-folded, punctuation and whitespace dropped) into words; every run of
``k`` words gets a 64-bit hash; from every window of ``w`` consecutive hashes the minimum is kept. Any
passage of ``w + k - 1`` words shared by two documents therefore yields a shared fingerprint, whatever
the formatting, line breaks or file format around it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

_WORD = re.compile(r"\w+")
_MASK = (1 << 64) - 1
_BASE = 0x100000001B3  # odd multiplier for the rolling combination of word hashes
_PERSON = b"caseguard-fp1"


@dataclass(frozen=True)
class FingerprintScheme:
    """Parameters of fingerprinting. The protected-store index and the classifier must use the same one."""

    k: int = 6
    """Words per shingle."""
    w: int = 4
    """Winnowing window (in shingles); shared passages of ``w + k - 1`` words are always caught."""
    max_words: int = 300_000
    """Words fingerprinted from the start of a document (bounds time on huge files)."""

    @property
    def name(self) -> str:
        """Identifies the scheme, to store next to fingerprints so indexes are never mixed."""
        return f"wordwinnow1-k{self.k}-w{self.w}-n{self.max_words}"


DEFAULT_SCHEME = FingerprintScheme()


def normalise_words(text: str, max_words: int | None = None) -> list[str]:
    """Words of ``text`` after NFKC and case folding; punctuation and whitespace runs dropped."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
    return words if max_words is None else words[:max_words]


def _word_hashes(words: list[str]) -> list[int]:
    table = {
        word: int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8, person=_PERSON).digest(), "little")
        for word in set(words)
    }
    return [table[word] for word in words]


def shingle_hashes(words: list[str], k: int) -> list[int]:
    """One 64-bit hash per run of ``k`` consecutive words: a polynomial rolling hash over per-word
    blake2b hashes (random 64-bit values, so the combination needs no further mixing)."""
    if len(words) < k:
        return []
    hashes = _word_hashes(words)
    drop = pow(_BASE, k, 1 << 64)
    h = 0
    for value in hashes[:k]:
        h = (h * _BASE + value) & _MASK
    out = [h]
    append = out.append
    for old, new in zip(hashes, hashes[k:], strict=False):
        h = (h * _BASE + new - old * drop) & _MASK
        append(h)
    return out


def winnow(hashes: list[int], w: int) -> frozenset[int]:
    """The minimum of every window of ``w`` consecutive hashes (all of them if fewer than ``w``)."""
    if not hashes:
        return frozenset()
    if len(hashes) <= w:
        return frozenset((min(hashes),))
    n = len(hashes) - w + 1
    return frozenset(map(min, *(hashes[i : i + n] for i in range(w))))


def fingerprints(text: str, scheme: FingerprintScheme = DEFAULT_SCHEME) -> frozenset[int]:
    """The fingerprint set of ``text`` under ``scheme``."""
    return winnow(shingle_hashes(normalise_words(text, scheme.max_words), scheme.k), scheme.w)


def containment(candidate: Collection[int], protected: Collection[int] | frozenset[int]) -> float:
    """Share of the candidate's fingerprints that are also the protected document's (0 if none)."""
    if not candidate:
        return 0.0
    other = protected if isinstance(protected, (set, frozenset)) else frozenset(protected)
    return sum(1 for fp in candidate if fp in other) / len(candidate)
