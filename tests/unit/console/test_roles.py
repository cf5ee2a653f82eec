"""Who may do what: the role table."""

from __future__ import annotations

import pytest

from collector.console.roles import HOME, PERMISSIONS, Permission, Role, allows, parse_role


def test_staff_may_only_report_their_devices() -> None:
    assert PERMISSIONS[Role.STAFF] == {Permission.SELF_REPORT}


def test_only_ig_officers_change_incidents_and_only_it_manages_devices() -> None:
    assert [r for r in Role if allows(r, Permission.ACT_ON_INCIDENTS)] == [Role.IG_OFFICER]
    assert [r for r in Role if allows(r, Permission.MANAGE_DEVICES)] == [Role.IT_ADMIN]


def test_the_auditor_reads_everything_an_officer_reads_and_changes_nothing() -> None:
    reads = PERMISSIONS[Role.IG_OFFICER] - {Permission.ACT_ON_INCIDENTS}
    assert PERMISSIONS[Role.AUDITOR] == reads


def test_it_sees_no_incident() -> None:
    assert not allows(Role.IT_ADMIN, Permission.VIEW_INCIDENTS) and not allows(Role.IT_ADMIN, Permission.EXPORT)


def test_every_role_lands_on_a_page_it_may_see() -> None:
    assert set(HOME) == set(Role)
    assert HOME[Role.STAFF] == "/report" and HOME[Role.IT_ADMIN] == "/devices"


def test_unknown_roles_are_named() -> None:
    assert parse_role("auditor") is Role.AUDITOR
    with pytest.raises(ValueError, match="ig_officer, it_admin, staff, auditor"):
        parse_role("admin")
