"""The central policy document (pure): what IT may set for every agent, validated and canonical.

Written as TOML by IT (deploy/policy.example.toml), stored and signed as canonical JSON. The
keys are a subset of the agent's own configuration with the same names and meanings, so the
agent merges them into its settings (never loosening what the laptop's own file says).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any

SCHEMA: Mapping[str, Mapping[str, type | tuple[type, ...]]] = {
    "lock": {"idle_timeout_s": (int, float), "warn_s": (int, float), "allow_inhibitors": bool},
    "case_files": {"roots": list, "reference_patterns": list, "label_map": dict},
    "egress": {"personal_dirs": list, "approved_dirs": list, "include_business": bool},
    "privacy": {"reveal_names": bool},
}


class PolicyError(ValueError):
    """A policy document that is not valid."""


def parse_policy_toml(text: str) -> dict[str, Any]:
    """Parse and validate IT's TOML."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}") from exc
    return validate(raw)


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check every section, key and type; returns a clean copy."""
    clean: dict[str, Any] = {}
    for section, values in raw.items():
        if section not in SCHEMA:
            raise PolicyError(f"unknown section [{section}] (allowed: {', '.join(SCHEMA)})")
        if not isinstance(values, Mapping):
            raise PolicyError(f"[{section}] must be a table")
        out: dict[str, Any] = {}
        for key, value in values.items():
            expected = SCHEMA[section].get(key)
            if expected is None:
                raise PolicyError(f"unknown key {section}.{key}")
            if isinstance(value, bool) and expected is not bool:
                raise PolicyError(f"{section}.{key} has the wrong type")
            if not isinstance(value, expected):
                raise PolicyError(f"{section}.{key} has the wrong type")
            out[key] = value
        clean[section] = out
    lock = clean.get("lock", {})
    if "idle_timeout_s" in lock and not lock["idle_timeout_s"] > 0:
        raise PolicyError("lock.idle_timeout_s must be positive")
    if "warn_s" in lock and not 0 <= lock["warn_s"] < lock.get("idle_timeout_s", float("inf")):
        raise PolicyError("lock.warn_s must be at least 0 and less than lock.idle_timeout_s")
    for pattern in clean.get("case_files", {}).get("reference_patterns", []):
        if not isinstance(pattern, str):
            raise PolicyError("case_files.reference_patterns must be strings")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise PolicyError(f"case_files.reference_patterns: {pattern!r}: {exc}") from exc
    for section, key in (("case_files", "roots"), ("egress", "personal_dirs"), ("egress", "approved_dirs")):
        if not all(isinstance(p, str) and p for p in clean.get(section, {}).get(key, [])):
            raise PolicyError(f"{section}.{key} must be a list of paths")
    if not all(isinstance(v, str) for v in clean.get("case_files", {}).get("label_map", {}).values()):
        raise PolicyError("case_files.label_map values must be strings")
    return clean


def canonical(policy: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
