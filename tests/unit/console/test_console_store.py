"""The console's SQLite store: accounts, sessions, owners, assignments, notes, posture at a moment."""

from __future__ import annotations

import pytest

from collector.domain.event_facts import EncryptionState
from collector.store.console import SQLiteConsoleStore
from collector.store.console_base import ConsoleSession, ConsoleStoreError, IncidentNote, UnknownUser, UserExists
from collector.wire.event_codec import POSTURE_KINDS, device_posture
from collector.workflow.times import to_us
from tests.unit.workflow.helpers import EGRESS, ENCRYPTED, NOT_ENCRYPTED, World


def test_accounts(console: SQLiteConsoleStore) -> None:
    console.add_user("ig.officer", "ig_officer", "$argon2id$x", 1)
    with pytest.raises(UserExists):
        console.add_user("ig.officer", "staff", "$argon2id$y", 2)
    console.set_disabled("ig.officer", 5)
    user = console.get_user("ig.officer")
    assert user is not None and not user.active and user.role == "ig_officer"
    console.set_disabled("ig.officer", None)
    assert console.get_user("ig.officer").active  # type: ignore[union-attr]
    with pytest.raises(UnknownUser):
        console.set_password_hash("nobody", "h")


def test_disabling_an_account_ends_its_sessions(console: SQLiteConsoleStore) -> None:
    console.add_user("staff.one", "staff", "h", 1)
    console.create_session(ConsoleSession("hash-1", "staff.one", "csrf", 1, 1))
    assert console.get_session("hash-1") is not None
    console.set_disabled("staff.one", 9)
    assert console.get_session("hash-1") is None


def test_owners_need_a_real_account_and_device(world: World, console: SQLiteConsoleStore) -> None:
    world.device("laptop-1")
    console.add_user("staff.one", "staff", "h", 1)
    with pytest.raises(UnknownUser):
        console.assign_owner("laptop-1", "nobody", 1)
    with pytest.raises(ConsoleStoreError):
        console.assign_owner("no-such-laptop", "staff.one", 1)
    console.assign_owner("laptop-1", "staff.one", 1)
    console.assign_owner("laptop-1", "staff.one", 2)  # idempotent
    assert console.devices_of("staff.one") == ["laptop-1"] and console.owners() == {"laptop-1": ["staff.one"]}
    assert console.remove_owner("laptop-1", "staff.one") and not console.remove_owner("laptop-1", "staff.one")


def test_assignments_and_notes(world: World, console: SQLiteConsoleStore) -> None:
    world.emit(world.device("laptop-1"), "case_file_egress", EGRESS)
    world.service.catch_up()
    iid = world.store.list_incidents()[0].incident_id
    console.add_user("ig.one", "ig_officer", "h", 1)
    console.assign_incident(iid, "ig.one", "ig.one", 5)
    assert console.assignments()[iid].user_name == "ig.one"
    console.add_note(IncidentNote(iid, 6, "ig.one", "rang the worker"))
    assert [n.text for n in console.notes(iid)] == ["rang the worker"]
    assert console.unassign_incident(iid) and console.assignments() == {}


def test_posture_as_it_stood_at_a_moment(world: World, console: SQLiteConsoleStore) -> None:
    device = world.device("laptop-1")
    world.emit(device, "encryption_posture", NOT_ENCRYPTED)
    then = to_us(world.clock.now)
    world.clock.advance(hours=1)
    world.emit(device, "encryption_posture", ENCRYPTED)
    at_then = device_posture(console.posture_events_at(device, POSTURE_KINDS, then))
    now = device_posture(console.posture_events_at(device, POSTURE_KINDS, to_us(world.clock.now)))
    assert at_then is not None and at_then.encryption is EncryptionState.NOT_ENCRYPTED
    assert now is not None and now.encryption is EncryptionState.ENCRYPTED
    with pytest.raises(ConsoleStoreError):
        console.posture_events_at(device, ["x'; DROP TABLE events; --"], then)
