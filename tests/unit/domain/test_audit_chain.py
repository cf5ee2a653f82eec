from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.audit_chain import (
    GENESIS_HASH,
    ChainEntry,
    ChainProblem,
    ProblemKind,
    append_entry,
    entry_hash,
    verify,
)
from collector.domain.lifecycle import Dismiss, apply, open_incident

from .builders import T0, egress_alert


def chain(n: int = 6) -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    for i in range(n):
        entries.append(
            append_entry(
                entries[-1] if entries else None,
                at=T0 + timedelta(minutes=i),
                actor="ig.officer" if i % 2 else "caseguard",
                action=f"incident.step{i}",
                subject=f"inc-{i % 2}",
                details={"i": i, "note": "é ünïcode", "nested": {"b": [1, 2], "a": None}},
            )
        )
    return entries


def kinds(problems: list[ChainProblem]) -> set[ProblemKind]:
    return {p.kind for p in problems}


def test_untouched_chain_verifies():
    entries = chain()
    assert verify(entries) == []
    assert verify(entries, expected_head=(entries[-1].seq, entries[-1].hash)) == []
    assert entries[0].prev_hash == GENESIS_HASH and entries[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


def test_details_are_canonical_regardless_of_key_order():
    a = append_entry(None, at=T0, actor="x", action="y", subject="z", details={"b": 1, "a": 2})
    b = append_entry(None, at=T0, actor="x", action="y", subject="z", details={"a": 2, "b": 1})
    assert a == b and a.details_json == '{"a":2,"b":1}'


@pytest.mark.parametrize(
    "field_change",
    [
        {"actor": "someone.else"},
        {"action": "incident.close"},
        {"subject": "inc-9"},
        {"details_json": '{"i":2,"nested":{"a":null,"b":[1,2]},"note":"changed"}'},
        {"at": T0 + timedelta(days=1)},
    ],
)
def test_edited_entry_is_detected(field_change):
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], **field_change)
    problems = verify(entries)
    assert ProblemKind.EDITED in kinds(problems)
    assert {p.seq for p in problems} == {3}


def test_edit_with_rehash_breaks_the_next_link():
    entries = chain()
    e = dataclasses.replace(entries[2], actor="someone.else")
    entries[2] = dataclasses.replace(
        e, hash=entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details_json, e.prev_hash)
    )
    problems = verify(entries)
    assert kinds(problems) == {ProblemKind.BROKEN_LINK}
    assert problems[0].seq == 4


def test_reordered_entries_are_detected():
    entries = chain()
    entries[2], entries[3] = entries[3], entries[2]
    assert {ProblemKind.BROKEN_LINK, ProblemKind.SEQ_OUT_OF_ORDER} <= kinds(verify(entries))


def test_deleted_entry_is_detected():
    entries = chain()
    del entries[3]
    problems = verify(entries)
    assert {ProblemKind.BROKEN_LINK, ProblemKind.SEQ_GAP} <= kinds(problems)
    assert any("entries 4..4 are missing" in p.message for p in problems)


def test_inserted_entry_is_detected_even_when_hashed_properly():
    entries = chain()
    forged = append_entry(entries[2], at=T0, actor="intruder", action="incident.close", subject="inc-0", details={})
    entries.insert(3, forged)
    assert {ProblemKind.BROKEN_LINK, ProblemKind.SEQ_OUT_OF_ORDER} <= kinds(verify(entries))


def test_truncation_needs_the_recorded_head():
    entries = chain()
    head = (entries[-1].seq, entries[-1].hash)
    assert verify(entries[:-2]) == []  # a chain alone cannot see its tail cut off
    assert kinds(verify(entries[:-2], expected_head=head)) == {ProblemKind.HEAD_MISMATCH}
    assert kinds(verify([], expected_head=head)) == {ProblemKind.HEAD_MISMATCH}


def test_a_later_segment_verifies_from_a_trusted_previous_entry():
    entries = chain()
    assert verify(entries[3:], previous=entries[2]) == []
    assert ProblemKind.BROKEN_LINK in kinds(verify(entries[3:], previous=entries[1]))
    assert ProblemKind.BROKEN_LINK in kinds(verify(entries[3:]))


def test_non_canonical_details_are_reported():
    entries = chain(2)
    e = entries[1]
    spaced = '{"i": 1}'
    entries[1] = dataclasses.replace(
        e, details_json=spaced, hash=entry_hash(e.seq, e.at, e.actor, e.action, e.subject, spaced, e.prev_hash)
    )
    assert kinds(verify(entries)) == {ProblemKind.NOT_CANONICAL}


def test_lifecycle_audit_records_chain_directly():
    opened = open_incident("inc-1", egress_alert(), T0)
    dismissed = apply(opened.incident, Dismiss("ig.officer", "test file"), T0 + timedelta(hours=1))
    first = append_entry(None, **opened.audit.chain_fields())
    entry = append_entry(first, **dismissed.audit.chain_fields())
    assert verify([first, entry]) == []
    assert (entry.action, entry.subject, entry.actor) == ("incident.dismiss", "inc-1", "ig.officer")
    assert json.loads(entry.details_json) == {
        "reason": "test file", "from_state": "suspected", "to_state": "dismissed", "near_miss": False,
    }


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=12),
    data=st.data(),
    tamper=st.sampled_from(["edit", "swap", "delete", "insert", "duplicate"]),
)
def test_any_single_tampering_is_detected(n, data, tamper):
    entries = chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 2))
    if tamper == "edit":
        entries[i] = dataclasses.replace(entries[i], subject="tampered")
    elif tamper == "swap":
        entries[i], entries[i + 1] = entries[i + 1], entries[i]
    elif tamper == "delete":
        del entries[i]
    elif tamper == "insert":
        entries.insert(i + 1, append_entry(entries[i], at=T0, actor="x", action="y", subject="z", details={}))
    else:
        entries.insert(i + 1, entries[i])
    assert verify(entries) != []


def _chain_of(n: int) -> list:
    from datetime import UTC, datetime

    from collector.domain.audit_chain import append_entry

    entries: list = []
    for i in range(n):
        entries.append(append_entry(entries[-1] if entries else None, at=datetime(2026, 1, 1, tzinfo=UTC),
                                    actor="ig", action=f"step{i}", subject="INC-1", details={}))
    return entries


def test_a_chain_extending_its_checkpoint_passes_and_one_cut_or_rewritten_below_it_fails() -> None:
    from datetime import UTC, datetime

    from collector.domain.audit_chain import ProblemKind, append_entry, checkpoint_of, verify_against

    chain = _chain_of(5)
    mark = checkpoint_of(chain[:3], datetime(2026, 1, 2, tzinfo=UTC))
    assert verify_against(chain, mark) == []
    [cut] = verify_against(chain[:2], mark)
    assert cut.kind is ProblemKind.CHECKPOINT_MISMATCH and "before entry 3" in cut.message
    rewritten = chain[:1]
    for e in chain[1:]:
        rewritten.append(append_entry(rewritten[-1], at=e.at, actor="insider", action=e.action, subject=e.subject,
                                      details={}))
    [changed] = verify_against(rewritten, mark)
    assert "rewritten" in changed.message
    assert verify_against([], mark)[0].kind is ProblemKind.CHECKPOINT_MISMATCH
    assert verify_against([], checkpoint_of([], datetime(2026, 1, 2, tzinfo=UTC))) == []
