"""UK identifiers both sides agree on: their checks, the case-management export, and their keyed hashes.

Pure. The agent's protected-store index keeps identifiers only as keyed hashes
(``identifier_hash``: HMAC-SHA256 under the organisation key, first 16 bytes); the collector makes
the same hashes from a case-management export for the central policy, so a laptop recognises a
child whose records it has never held, and neither side ever stores the values.

The export is a CSV whose header names any of ``nhs_number``, ``case_reference``, ``ni_number``
(other columns are ignored), then one record a row. Values are normalised before hashing: NHS
numbers lose spaces and hyphens, NI numbers spaces and case; case references are kept as written.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)

# Prefix letters never issued (HMRC): D, F, I, Q, U, V in either place; O second; these pairs.
NI_BAD_LETTERS = frozenset("DFIQUV")
NI_BAD_SECOND = frozenset("O")
NI_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
NI_SUFFIXES = frozenset("ABCD")

EXPORT_COLUMNS = {"nhs_number": "nhs", "case_reference": "ref", "ni_number": "ni"}
ID_HASH_BYTES = 16
MAX_CASE_REFERENCE = 64


def nhs_check_digit(first_nine: str) -> int | None:
    """The NHS number check digit for nine digits, or None when the remainder makes it invalid (10)."""
    if len(first_nine) != 9 or not first_nine.isascii() or not first_nine.isdigit():
        raise ValueError("nine ASCII digits expected")
    total = sum(int(d) * w for d, w in zip(first_nine, NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(value: str) -> bool:
    """True for ten digits (spaces, hyphens and line breaks between them ignored) with a correct check digit.

    999-prefixed numbers, reserved for testing, are valid like any other.
    """
    digits = "".join(ch for ch in value if ch not in " -\t\r\n")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def is_valid_ni_number(value: str) -> bool:
    """True for a National Insurance number with an allocatable prefix and suffix A-D (spaces ignored)."""
    compact = value.replace(" ", "").upper()
    if len(compact) != 9 or not compact.isascii():
        return False
    prefix, digits, suffix = compact[:2], compact[2:8], compact[8]
    if not (prefix.isalpha() and digits.isdigit() and suffix in NI_SUFFIXES):
        return False
    if prefix[0] in NI_BAD_LETTERS or prefix[1] in NI_BAD_LETTERS or prefix[1] in NI_BAD_SECOND:
        return False
    return prefix not in NI_BAD_PREFIXES


def normalise_identifier(kind: str, cell: str) -> str:
    """The form that is hashed: ``nhs`` digits only, ``ni`` compact upper case, ``ref`` as written."""
    if kind == "nhs":
        return "".join(ch for ch in cell if ch.isdigit())
    if kind == "ni":
        return cell.replace(" ", "").upper()
    return cell


KEY_CHECK_VALUE = "caseguard:identifier-key-check"


def key_check(key: bytes) -> str:
    """What the central policy publishes beside the hashes, so a laptop hashing under another key
    (no org_key_file, or a different one) finds out instead of silently matching nothing."""
    return identifier_hash(key, KEY_CHECK_VALUE).hex()


def identifier_hash(key: bytes, value: str) -> bytes:
    """The keyed hash of one normalised, prefixed identifier (``nhs:9990122407``)."""
    return hmac.new(key, b"identifier\x1f" + value.encode("utf-8"), hashlib.sha256).digest()[:ID_HASH_BYTES]


MIN_ORG_KEY_BYTES = 16


def read_org_key(path: Path) -> bytes:
    """The organisation's HMAC key from its file (as written, surrounding whitespace dropped).

    Raises ``OSError`` when it cannot be read and ``ValueError`` when it is too short.
    """
    key = path.read_bytes().strip()
    if len(key) < MIN_ORG_KEY_BYTES:
        raise ValueError(f"{path}: the organisation key must be at least {MIN_ORG_KEY_BYTES} bytes")
    return key


class ExportError(ValueError):
    """A case-management export that cannot be used; the message names the line and column, never a value."""


@dataclass(frozen=True)
class Export:
    """The identifiers of an export (normalised, prefixed ``nhs:``/``ref:``/``ni:``) and their counts."""

    values: frozenset[str]
    counts: dict[str, int]


def _problem(kind: str, value: str) -> str | None:
    if kind == "nhs" and not is_valid_nhs_number(value):
        return "not a valid NHS number (ten digits with a matching check digit)"
    if kind == "ni" and not is_valid_ni_number(value):
        return "not a valid National Insurance number (two letters, six digits, A to D)"
    if kind == "ref" and len(value) > MAX_CASE_REFERENCE:
        return f"a case reference longer than {MAX_CASE_REFERENCE} characters"
    return None


def read_export(path: Path, *, strict: bool) -> Export:
    """Read a case-management export. ``strict`` refuses a malformed NHS or NI number or an overlong
    reference (``ExportError`` naming the line and column); otherwise such cells are taken as written.

    Raises ``ExportError`` for a file that cannot be read, is empty or names none of the columns.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ExportError(f"known identifiers CSV {path}: empty")
            columns = {i: (h.strip().lower(), EXPORT_COLUMNS[h.strip().lower()]) for i, h in enumerate(header)
                       if h.strip().lower() in EXPORT_COLUMNS}  # fmt: skip
            if not columns:
                raise ExportError(f"known identifiers CSV {path}: the header names none of {sorted(EXPORT_COLUMNS)}")
            values: set[str] = set()
            for row in reader:
                for i, (name, kind) in columns.items():
                    cell = row[i].strip() if i < len(row) else ""
                    if not cell:
                        continue
                    problem = _problem(kind, cell) if strict else None
                    if problem is not None:
                        raise ExportError(f"known identifiers CSV {path} line {reader.line_num}, {name}: {problem}")
                    values.add(f"{kind}:{normalise_identifier(kind, cell)}")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        line = f" line {reader.line_num}" if "reader" in locals() else ""
        raise ExportError(f"known identifiers CSV {path}{line}: {type(exc).__name__}") from exc
    counts = {kind: sum(1 for v in values if v.startswith(kind + ":")) for kind in EXPORT_COLUMNS.values()}
    return Export(frozenset(values), counts)


def export_hashes(key: bytes, values: Iterable[str]) -> list[str]:
    """The keyed hashes (hex, sorted) the central policy carries for ``values``."""
    return sorted({identifier_hash(key, v).hex() for v in values})
