"""JSON values and their one canonical text form, shared by the audit chain and the exports.

Canonical means: keys sorted, no insignificant whitespace, UTF-8 kept as is, no NaN or
infinity. Two equal values always give byte-identical text, so the text can be hashed.
"""

from __future__ import annotations

import json
from typing import TypeAlias

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"


def canonical_json(value: JsonValue) -> str:
    """Return the canonical JSON text of ``value``; raises ``ValueError`` for NaN or infinity."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def is_canonical(text: str) -> bool:
    """True when ``text`` parses as JSON and is already in canonical form."""
    try:
        return canonical_json(json.loads(text)) == text
    except ValueError:
        return False
