"""A stand-in for the classifier's analyser: SHA-256 of the bytes, fingerprints from words."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from agent.protected.index import ProtectedFacts

_WORD = re.compile(rb"[A-Za-z0-9]+")


def word_fingerprint(word: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(word.lower(), digest_size=8).digest(), "big")


def fingerprints_of(text: bytes) -> frozenset[int]:
    return frozenset(word_fingerprint(w) for w in _WORD.findall(text))


class FakeAnalyse:
    """Counts its calls; can be told to fail on some names."""

    def __init__(self, fail_on: frozenset[str] = frozenset()) -> None:
        self.calls = 0
        self.fail_on = fail_on

    def __call__(self, path: Path) -> ProtectedFacts:
        self.calls += 1
        if path.name in self.fail_on:
            raise ValueError("unreadable document")
        data = path.read_bytes()
        return ProtectedFacts(hashlib.sha256(data).hexdigest(), len(data), fingerprints_of(data))
