"""Roles and what each may do: a table, checked on the server for every route.

- ig_officer: triage, decide and export incidents; edit ICO drafts; read devices and the audit trail.
- it_admin: devices (posture, revoke, found, owners); no incident is visible to IT.
- staff: report one of their own devices lost; nothing else.
- auditor: read everything an officer can read, and download exports; change nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class Role(enum.StrEnum):
    """A console account's role."""

    IG_OFFICER = "ig_officer"
    IT_ADMIN = "it_admin"
    STAFF = "staff"
    AUDITOR = "auditor"


class Permission(enum.StrEnum):
    """One thing a route needs."""

    VIEW_INCIDENTS = "view_incidents"
    ACT_ON_INCIDENTS = "act_on_incidents"
    EXPORT = "export"
    VIEW_DEVICES = "view_devices"
    MANAGE_DEVICES = "manage_devices"
    SELF_REPORT = "self_report"
    VIEW_AUDIT = "view_audit"


P = Permission
PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.IG_OFFICER: frozenset({P.VIEW_INCIDENTS, P.ACT_ON_INCIDENTS, P.EXPORT, P.VIEW_DEVICES, P.VIEW_AUDIT}),
    Role.IT_ADMIN: frozenset({P.VIEW_DEVICES, P.MANAGE_DEVICES}),
    Role.STAFF: frozenset({P.SELF_REPORT}),
    Role.AUDITOR: frozenset({P.VIEW_INCIDENTS, P.EXPORT, P.VIEW_DEVICES, P.VIEW_AUDIT}),
}

ROLE_TEXT: Mapping[Role, str] = {
    Role.IG_OFFICER: "Information-governance officer",
    Role.IT_ADMIN: "IT administrator",
    Role.STAFF: "Staff",
    Role.AUDITOR: "Auditor (read only)",
}

# Where each role lands after signing in.
HOME: Mapping[Role, str] = {
    Role.IG_OFFICER: "/inbox",
    Role.IT_ADMIN: "/devices",
    Role.STAFF: "/report",
    Role.AUDITOR: "/inbox",
}


def allows(role: Role, permission: Permission) -> bool:
    """True when ``role`` has ``permission``."""
    return permission in PERMISSIONS[role]


def parse_role(text: str) -> Role:
    """A role from its name; ValueError naming the choices otherwise."""
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"unknown role {text!r}: choose one of {', '.join(r.value for r in Role)}") from None
