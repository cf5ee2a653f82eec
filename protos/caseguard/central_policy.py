"""The central policy's schema, shared by the collector (which publishes it) and the agent (which merges it).

The keys are a subset of the agent's own settings with the same names, value types and
meanings (a unit test holds each to the agent's declaration); every key is optional, and a
key left out (None here) leaves each agent's own setting in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from caseguard.settings import (
    After,
    Flag,
    IdentifierHash,
    NoticeText,
    Regex,
    Seconds,
    SecondsOrZero,
    SettingsPath,
    Text,
    refuse,
    settings,
    validate,
)

# What the person at the laptop is told the moment a case file lands where it must not (the
# organisation may put its own words in the central policy). No file name: a notification can
# be read over a shoulder. "Will be told": the event is on disk and on its way, not yet received.
DEFAULT_NOTICE_REMOVABLE = (
    "This looks like a case file. Case files must not be saved to memory sticks or other removable drives. "
    "The information-governance team will be told."
)
DEFAULT_NOTICE_PERSONAL = (
    "This looks like a case file. Case files must not be saved to personal folders or personal cloud storage. "
    "The information-governance team will be told."
)


def check_lock_timing(idle_timeout_s: float | None, warn_s: float | None) -> None:
    """The warning must start before the lock: ``0 <= warn_s < idle_timeout_s`` (shared by agent and policy)."""
    if warn_s is not None and idle_timeout_s is not None and not warn_s < idle_timeout_s:
        raise refuse(f"a number below lock.idle_timeout_s ({idle_timeout_s:g})", found=warn_s, key="warn_s")


@settings
@dataclass(frozen=True)
class PolicyLock:
    """Central auto-lock settings."""

    idle_timeout_s: Seconds | None = None
    warn_s: SecondsOrZero | None = None
    allow_inhibitors: Flag | None = None


def _lock_timing(lock: PolicyLock) -> PolicyLock:
    check_lock_timing(lock.idle_timeout_s, lock.warn_s)
    return lock


@settings
@dataclass(frozen=True)
class PolicyCaseFiles:
    """Central case-file stores and how case files are recognised (added to each laptop's own)."""

    roots: tuple[SettingsPath, ...] | None = None
    reference_patterns: tuple[Regex, ...] | None = None
    label_map: Mapping[Text, Text] | None = None
    # Keyed hashes of the identifiers in the case-management export (policy set --identifiers).
    known_identifier_hashes: tuple[IdentifierHash, ...] | None = None
    known_identifier_key_check: Text | None = None  # caseguard.identifiers.key_check of the key used


@settings
@dataclass(frozen=True)
class PolicyEgress:
    """Central egress settings."""

    personal_dirs: tuple[SettingsPath, ...] | None = None
    approved_dirs: tuple[SettingsPath, ...] | None = None
    include_business: Flag | None = None
    notify_user: Flag | None = None
    notice_removable: NoticeText | None = None
    notice_personal: NoticeText | None = None


@settings
@dataclass(frozen=True)
class PolicyPrivacy:
    """Central privacy settings."""

    reveal_names: Flag | None = None


@settings
@dataclass(frozen=True)
class PolicyDocument:
    """The whole central policy document."""

    lock: Annotated[PolicyLock, After(_lock_timing)] | None = None
    case_files: PolicyCaseFiles | None = None
    egress: PolicyEgress | None = None
    privacy: PolicyPrivacy | None = None


def validate_policy(raw: Mapping[str, Any], *, where: str, error: type[ValueError]) -> PolicyDocument:
    """``raw`` checked against the schema; a problem raises ``error`` with one line."""
    return validate(PolicyDocument, raw, where=where, error=error)
