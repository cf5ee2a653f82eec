"""Personal identifiers in text: NHS numbers, National Insurance numbers, case references, dates of birth.

Pure functions. Scanning works on UTF-8 bytes: each identifier has its own pattern, anchored on a literal
after a one-pass ``bytes.translate`` that maps every digit to ``0``, so the regex engine can jump between
digit runs instead of testing every character.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

# The checks are shared with the collector, which applies them to case-management exports.
from caseguard.identifiers import NHS_WEIGHTS
from caseguard.identifiers import is_valid_nhs_number as is_valid_nhs_number
from caseguard.identifiers import is_valid_ni_number as is_valid_ni_number
from caseguard.identifiers import nhs_check_digit as nhs_check_digit

# Digits -> "0"; upper-case letters and the separators the patterns use are kept; all else -> "x".
_KEEP = set(b" -\t\r\n") | set(range(ord("A"), ord("Z") + 1))
_SHAPE = bytes(
    ord("0") if ord("0") <= i <= ord("9") else (i if i in _KEEP else ord("x")) for i in range(256)
)
_SEP = rb"(?: ?- ?| |[ \t]*\r?\n[ \t]*)?"  # grouping: space, hyphen, or a line break between groups
_NHS_SHAPE = re.compile(rb"000" + _SEP + rb"000" + _SEP + rb"0000")
_NI_SHAPE = re.compile(rb"00 ?00 ?00 ?[A-D]")
_ALNUM = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD_BYTES = _ALNUM | {ord("_")}
_NOT_DIGIT = re.compile(rb"[^0-9]")
_DOB_LABELS = (b"date of birth", b"dob", b"d.o.b")
_DOB_DATE = re.compile(
    rb"\.?[^a-z0-9]{0,8}"
    rb"(\d{1,2}[/.\- ]\d{1,2}[/.\- ]\d{2,4}|\d{1,2}(?:st|nd|rd|th)? [a-z]{3,9},? \d{4}|\d{4}-\d{2}-\d{2})"
)
_ZERO_WEIGHTED = 48 * sum(NHS_WEIGHTS)


@dataclass(frozen=True)
class IdentifierHits:
    """Distinct identifiers found in one text, and how many NHS-shaped numbers were seen."""

    nhs_numbers: frozenset[str]
    nhs_candidates: int
    """Distinct NHS-shaped values (valid or not): the same number written twice is one candidate."""
    ni_numbers: frozenset[str]
    case_references: frozenset[str]
    dates_of_birth: frozenset[str]


def _bounded(data: bytes, start: int, end: int) -> bool:
    """No letter or digit touches the span ``data[start:end]`` on either side."""
    return (start == 0 or data[start - 1] not in _ALNUM) and (end >= len(data) or data[end] not in _ALNUM)


def _nhs_digits_valid(digits: bytes) -> bool:
    # Bytes iterate as ASCII codes: subtract the '0' offset once for all nine weighted digits.
    total = sum(map(operator.mul, digits[:9], NHS_WEIGHTS)) - _ZERO_WEIGHTED
    check = 11 - total % 11
    return check != 10 and (0 if check == 11 else check) == digits[9] - 48


def find_nhs_numbers(data: bytes, shape: bytes) -> tuple[frozenset[str], int]:
    """Valid NHS numbers in ``data`` and the count of distinct NHS-shaped values (valid or not).

    A match that touches another letter or digit ("016 9990122" in "14/03/2016 9990122407") is not a
    candidate; the number it swallowed the start of is then looked for from one byte on, so table rows
    that run a date into an NHS number keep it.
    """
    found: set[str] = set()
    shaped: set[bytes] = set()

    def take(start: int, end: int) -> None:
        digits = data[start:end]
        if end - start != 10:
            digits = _NOT_DIGIT.sub(b"", digits)
        if digits not in shaped:
            shaped.add(digits)
            if _nhs_digits_valid(digits):
                found.add(digits.decode("ascii"))

    search = _NHS_SHAPE.search
    for m in _NHS_SHAPE.finditer(shape):
        start, end = m.span()
        if _bounded(data, start, end):
            take(start, end)
            continue
        # Rare (a number glued to other digits): look again inside the span the match consumed.
        pos = start + 1
        while pos < end:
            inner = search(shape, pos)
            if inner is None or inner.start() >= end:
                break
            if _bounded(data, inner.start(), inner.end()):
                take(inner.start(), inner.end())
                break
            pos = inner.start() + 1
    return frozenset(found), len(shaped)


def find_ni_numbers(data: bytes, shape: bytes) -> frozenset[str]:
    """Valid National Insurance numbers (upper case, optionally spaced) in ``data``."""
    found: set[str] = set()
    for m in _NI_SHAPE.finditer(shape):
        start, end = m.span()
        letters_end = start - 1 if start and data[start - 1] == 0x20 else start
        letters_start = letters_end - 2
        if letters_start < 0 or not _bounded(data, letters_start, end):
            continue
        candidate = data[letters_start:end].decode("latin-1")
        if is_valid_ni_number(candidate):
            found.add(candidate.replace(" ", ""))
    return frozenset(found)


def compile_reference(pattern: str) -> tuple[re.Pattern[bytes], bool]:
    """Compile a case-reference regex for bytes, and whether its leading ``\\b`` was lifted out.

    A leading word boundary stops the regex engine from jumping to the pattern's literal prefix (it then
    tests every position, about 30 times slower); ``find_references`` checks that boundary itself instead.
    """
    if pattern.startswith("\\b") and "|" not in pattern:  # only when the boundary governs the whole pattern
        return re.compile(pattern[2:].encode("utf-8")), True
    return re.compile(pattern.encode("utf-8")), False


def _word_boundary_at(data: bytes, at: int) -> bool:
    before = at > 0 and data[at - 1] in _WORD_BYTES
    after = at < len(data) and data[at] in _WORD_BYTES
    return before != after


def find_references(data: bytes, patterns: Sequence[tuple[re.Pattern[bytes], bool]]) -> frozenset[str]:
    """Distinct case references matched by compiled ``patterns`` (see ``compile_reference``)."""
    found: set[str] = set()
    for pattern, lifted_boundary in patterns:
        pos = 0
        while True:
            m = pattern.search(data, pos)
            if m is None:
                break
            if not lifted_boundary or _word_boundary_at(data, m.start()):
                found.add(m.group(0).decode("utf-8", "replace"))
            pos = m.start() + 1 if m.end() == m.start() else m.end()
    return frozenset(found)


def find_dates_of_birth(lowered: bytes) -> frozenset[str]:
    """Dates that follow a date-of-birth label ("date of birth", "DOB") in lower-cased ``lowered``."""
    found: set[str] = set()
    for label in _DOB_LABELS:
        at = lowered.find(label)
        while at >= 0:
            end = at + len(label)
            if (at == 0 or lowered[at - 1] not in _ALNUM) and (end >= len(lowered) or lowered[end] not in _ALNUM):
                m = _DOB_DATE.match(lowered, end)
                if m:
                    found.add(m.group(1).decode("ascii", "replace"))
            at = lowered.find(label, end)
    return frozenset(found)


def shape_of(data: bytes) -> bytes:
    """``data`` with digits mapped to ``0`` and everything but upper-case letters and separators to ``x``."""
    return data.translate(_SHAPE)


def scan_identifiers(data: bytes, reference_patterns: Sequence[str] = ()) -> IdentifierHits:
    """All identifiers in UTF-8 ``data``; ``reference_patterns`` are case-reference regexes (str)."""
    shape = shape_of(data)
    nhs, candidates = find_nhs_numbers(data, shape)
    return IdentifierHits(
        nhs_numbers=nhs,
        nhs_candidates=candidates,
        ni_numbers=find_ni_numbers(data, shape),
        case_references=find_references(data, [compile_reference(p) for p in reference_patterns]),
        dates_of_birth=find_dates_of_birth(data.lower()),
    )
