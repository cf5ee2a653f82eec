"""The central policy document (pure): what IT may set for every agent, validated and canonical.

Written as TOML by IT (deploy/policy.example.toml), stored and signed as canonical JSON. The
keys are a subset of the agent's own configuration with the same names and meanings, so the
agent merges them into its settings (never loosening what the laptop's own file says). The
schema is caseguard.central_policy, shared with the agent, which checks it again on arrival.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

from caseguard.central_policy import validate_policy
from collector.errors import UsageError


class PolicyError(UsageError, ValueError):
    """A policy document that is not valid."""


def parse_policy_toml(text: str) -> dict[str, Any]:
    """Parse and validate IT's TOML."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}") from exc
    return validate(raw)


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check every section, key and value; returns a clean copy (values as written, for signing)."""
    validate_policy(raw, where="", error=PolicyError)
    return {section: dict(values) for section, values in raw.items()}


def canonical(policy: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
