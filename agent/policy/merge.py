"""Merging the central policy into the local configuration (pure). Local settings may only tighten.

For each setting the central policy gives:
- a setting the laptop's own file does not set explicitly takes the central value;
- the words staff are shown (``egress.notice_*``) are the organisation's: the central ones win;
- one it does set wins only where it is stricter (a shorter idle timeout, inhibitors not
  allowed, names not revealed, business clouds still counted as personal, fewer approved
  folders), and is listed in ``tightened_locally``;
- lists that add protection (case roots, reference patterns, label map, known identifier
  hashes, personal folders) are the union of both.

The policy is checked against the shared schema (caseguard.central_policy) before merging,
and the merged configuration is held to the same rules as the laptop's own file afterwards;
either failing raises ``ConfigError`` with one line, and the caller keeps what it had.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.config import AgentConfig, ConfigError, check_config
from caseguard.central_policy import validate_policy


@dataclasses.dataclass(frozen=True)
class Merged:
    """The effective configuration and where the laptop's own file was stricter."""

    config: AgentConfig
    tightened_locally: tuple[str, ...]


def merge_policy(local: AgentConfig, policy: Mapping[str, Any]) -> Merged:
    """The configuration the agent runs with under ``policy``; ConfigError if either is not valid."""
    validate_policy(policy, where="central policy", error=ConfigError)
    explicit = local.explicit
    tightened: list[str] = []

    def pick(key: str, central: Any, mine: Any, stricter: bool) -> Any:
        if key in explicit and mine != central and stricter:
            tightened.append(key)
            return mine
        return central

    lock, case_files, egress, privacy = local.lock, local.case_files, local.egress, local.privacy
    p_lock = policy.get("lock", {})
    if "idle_timeout_s" in p_lock:
        central = float(p_lock["idle_timeout_s"])
        mine = lock.idle_timeout_s
        lock = dataclasses.replace(lock, idle_timeout_s=pick("lock.idle_timeout_s", central, mine, mine < central))
    if "warn_s" in p_lock:
        lock = dataclasses.replace(lock, warn_s=min(float(p_lock["warn_s"]), lock.idle_timeout_s / 2))
    elif lock.warn_s >= lock.idle_timeout_s:
        lock = dataclasses.replace(lock, warn_s=lock.idle_timeout_s / 2)
    if "allow_inhibitors" in p_lock:
        central_b = bool(p_lock["allow_inhibitors"])
        lock = dataclasses.replace(
            lock,
            allow_inhibitors=pick("lock.allow_inhibitors", central_b, lock.allow_inhibitors,
                                  not lock.allow_inhibitors and central_b),
        )

    p_cf = policy.get("case_files", {})
    case_files = dataclasses.replace(
        case_files,
        roots=_union(case_files.roots, p_cf.get("roots", [])),
        reference_patterns=tuple(dict.fromkeys([*p_cf.get("reference_patterns", []), *case_files.reference_patterns])),
        label_map={**dict(p_cf.get("label_map", {})), **dict(case_files.label_map)},
        known_identifier_hashes=tuple(dict.fromkeys([*p_cf.get("known_identifier_hashes", []),
                                                     *case_files.known_identifier_hashes])),
        known_identifier_key_check=str(p_cf.get("known_identifier_key_check", case_files.known_identifier_key_check)),
    )

    p_eg = policy.get("egress", {})
    approved = egress.approved_dirs
    if "approved_dirs" in p_eg:
        central_approved = tuple(Path(p) for p in p_eg["approved_dirs"])
        if "egress.approved_dirs" in explicit:
            approved = tuple(p for p in central_approved if p in set(egress.approved_dirs))
            if approved != central_approved:
                tightened.append("egress.approved_dirs")
        else:
            approved = central_approved
    include_business = egress.include_business
    if "include_business" in p_eg:
        central_b = bool(p_eg["include_business"])
        include_business = pick("egress.include_business", central_b, egress.include_business,
                                egress.include_business and not central_b)
    notify_user = egress.notify_user
    if "notify_user" in p_eg:
        central_b = bool(p_eg["notify_user"])
        notify_user = pick("egress.notify_user", central_b, egress.notify_user, egress.notify_user and not central_b)
    egress = dataclasses.replace(
        egress,
        personal_dirs=_union(egress.personal_dirs, p_eg.get("personal_dirs", [])),
        approved_dirs=approved,
        include_business=include_business,
        notify_user=notify_user,
        # The wording is the organisation's: the central policy's words replace the laptop's.
        notice_removable=str(p_eg.get("notice_removable", egress.notice_removable)),
        notice_personal=str(p_eg.get("notice_personal", egress.notice_personal)),
    )

    p_pv = policy.get("privacy", {})
    if "reveal_names" in p_pv:
        central_b = bool(p_pv["reveal_names"])
        privacy = dataclasses.replace(
            privacy,
            reveal_names=pick("privacy.reveal_names", central_b, privacy.reveal_names,
                              not privacy.reveal_names and central_b),
        )
    merged = dataclasses.replace(local, lock=lock, case_files=case_files, egress=egress, privacy=privacy)
    where = f"{local.source or 'agent configuration'} merged with the central policy"
    return Merged(check_config(merged, where), tuple(tightened))


def _union(local: tuple[Path, ...], central: list[str]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys([*(Path(p) for p in central), *local]))
