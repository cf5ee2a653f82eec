"""Case vocabulary: which social-care concepts a text mentions, found with fast substring tests.

Pure. The text is reduced once to lower-case words separated by single spaces, so each term (with
its variants) is a plain ``bytes in`` test with word boundaries for free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Concept -> weight. "a|b" lists variants of one concept; a concept counts once however often it appears.
# Strong terms (1.0) rarely appear outside casework; common ones (0.5) need company.
DEFAULT_VOCABULARY: Mapping[str, float] = {
    "child protection|child protection plan|cp plan": 1.0,
    "looked after|looked after child|looked after children|lac": 1.0,
    "child in need|children in need|cin": 1.0,
    "care plan|care plans|pathway plan": 1.0,
    "section 47|s47|section 17|s17": 1.0,
    "strategy meeting|strategy discussion": 1.0,
    "core group|case conference|child protection conference": 1.0,
    "social worker|social workers|allocated worker": 1.0,
    "foster carer|foster carers|foster placement|placement": 0.75,
    "safeguarding": 0.5,
    "child|children|young person|young people": 0.5,
    "family|families": 0.5,
    "parent|parents|mother|father|mum|dad": 0.5,
    "carer|carers|guardian|special guardian": 0.5,
    "date of birth|dob": 0.5,
    "referral|assessment": 0.5,
    "contact visit|contact arrangements|supervised contact": 0.75,
}

# Lower-case ASCII letters and digits kept (upper case folded); bytes >= 0x80 kept so UTF-8 words survive;
# everything else becomes a space.
_WORDS = bytes(
    i + 32 if 65 <= i <= 90 else (i if (48 <= i <= 57 or 97 <= i <= 122 or i >= 128) else 32) for i in range(256)
)
_SPACES = re.compile(rb"  +")


@dataclass(frozen=True)
class Vocabulary:
    """Compiled concepts: each with its weight and its variants as space-delimited byte strings."""

    concepts: tuple[tuple[str, float, tuple[bytes, ...]], ...]

    @property
    def total_weight(self) -> float:
        """Sum of all concept weights."""
        return sum(weight for _, weight, _ in self.concepts)


def compile_vocabulary(vocabulary: Mapping[str, float]) -> Vocabulary:
    """Turn a ``concept -> weight`` mapping into a ``Vocabulary`` ready for ``find_concepts``."""
    concepts: list[tuple[str, float, tuple[bytes, ...]]] = []
    for concept, weight in vocabulary.items():
        variants: list[bytes] = []
        for variant in concept.split("|"):
            words = normalise_words(variant.encode("utf-8")).strip()
            if words:
                variants.append(b" " + words + b" ")
        if variants:
            concepts.append((concept.split("|")[0].strip(), float(weight), tuple(variants)))
    return Vocabulary(tuple(concepts))


def normalise_words(data: bytes) -> bytes:
    """``data`` as lower-case words separated by single spaces, with a space at each end."""
    return b" " + _SPACES.sub(b" ", data.translate(_WORDS)).strip() + b" "


def find_concepts(words: bytes, vocabulary: Vocabulary) -> dict[str, float]:
    """Concepts present in ``words`` (from ``normalise_words``) with their weights."""
    found: dict[str, float] = {}
    for name, weight, variants in vocabulary.concepts:
        for variant in variants:
            if variant in words:
                found[name] = weight
                break
    return found
