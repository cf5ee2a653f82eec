from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collector.domain.clocks import (
    ClockKind,
    ClockPolicy,
    clock_status,
    deadline,
    format_london,
    is_high_confidence,
    is_late,
    provisional_start,
    statutory_deadline,
)
from collector.domain.errors import InvalidTimestamp
from collector.domain.grouping import attach_alert
from collector.domain.incident import Incident, ReportType
from collector.domain.lifecycle import (
    Assess,
    Confirm,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    NotifyIco,
    Reopen,
    apply,
)
from collector.domain.risk import score_assessment

from .builders import T0, egress_alert, lock_alert, lost_alert, new_incident

OFFICER = "ig.officer"


def test_deadline_across_the_october_clock_change_is_72_elapsed_hours():
    aware = datetime(2025, 10, 24, 9, 0, tzinfo=UTC)  # Friday 10:00 BST
    due = statutory_deadline(aware)
    assert due - aware == timedelta(hours=72)
    assert format_london(aware) == "Fri 24 Oct 2025, 10:00 BST"
    assert format_london(due) == "Mon 27 Oct 2025, 09:00 GMT"  # wall clock shows 71 hours: the hour went back


def test_deadline_across_the_march_clock_change():
    aware = datetime(2025, 3, 28, 10, 0, tzinfo=UTC)  # Friday 10:00 GMT
    assert format_london(aware) == "Fri 28 Mar 2025, 10:00 GMT"
    assert format_london(statutory_deadline(aware)) == "Mon 31 Mar 2025, 11:00 BST"


def test_deadline_during_the_repeated_hour_is_unambiguous():
    first_0130 = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 01:30 BST
    second_0130 = datetime(2025, 10, 26, 1, 30, tzinfo=UTC)  # 01:30 GMT, an hour later
    assert format_london(first_0130) == "Sun 26 Oct 2025, 01:30 BST"
    assert format_london(second_0130) == "Sun 26 Oct 2025, 01:30 GMT"


def test_deadline_and_formatting_refuse_naive_times():
    with pytest.raises(InvalidTimestamp):
        statutory_deadline(datetime(2025, 1, 1))
    with pytest.raises(InvalidTimestamp):
        format_london(datetime(2025, 1, 1))


def test_what_counts_as_high_confidence():
    policy = ClockPolicy(high_confidence=0.9)
    assert is_high_confidence(lost_alert(), policy)
    assert is_high_confidence(egress_alert(confidence=0.5, reasons=("exact",)), policy)
    assert is_high_confidence(egress_alert(confidence=0.92, reasons=("content",)), policy)
    assert not is_high_confidence(egress_alert(confidence=0.6, reasons=("content",)), policy)
    assert not is_high_confidence(lock_alert(), policy)


def test_provisional_clock_starts_at_first_high_confidence_receipt():
    weak = egress_alert(at=T0, confidence=0.5, reasons=("content",))
    strong = egress_alert(at=T0 + timedelta(minutes=5), received=T0 + timedelta(hours=2))
    incident = new_incident(weak)
    assert provisional_start(incident) is None
    assert clock_status(incident).kind is None
    incident = attach_alert(incident, strong, T0 + timedelta(hours=2)).incident
    status = clock_status(incident)
    assert (status.kind, status.started_at) == (ClockKind.PROVISIONAL, T0 + timedelta(hours=2))
    assert status.deadline == T0 + timedelta(hours=74)
    assert status.remaining(T0 + timedelta(hours=3)) == timedelta(hours=71)


def test_dismissal_stops_the_provisional_clock():
    incident = new_incident(lost_alert(received=T0))
    dismissed = apply(incident, Dismiss(OFFICER, "found"), T0 + timedelta(hours=1)).incident
    status = clock_status(dismissed)
    assert status.stopped_at == T0 + timedelta(hours=1) and not status.running
    assert status.remaining(T0 + timedelta(hours=2)) is None


def _confirmed() -> Incident:
    incident = new_incident(lost_alert(received=T0))
    return apply(incident, Confirm(OFFICER, "lost", aware_at=T0), T0 + timedelta(hours=1)).incident


def _assessed() -> Incident:
    a = score_assessment(4, 4, involves_vulnerable=True, rationale=(), assessed_at=T0, assessed_by=OFFICER, draft=False)
    return apply(_confirmed(), Assess(OFFICER, a), T0 + timedelta(hours=2)).incident


def test_statutory_clock_replaces_the_provisional_one_on_confirmation():
    status = clock_status(_confirmed())
    assert (status.kind, status.started_at, status.deadline) == (ClockKind.STATUTORY, T0, T0 + timedelta(hours=72))
    assert status.running and deadline(_confirmed()) == status.deadline


def test_statutory_clock_stops_when_ico_notified():
    reportable = apply(_assessed(), DecideReportable(OFFICER, "x"), T0 + timedelta(hours=3)).incident
    assert clock_status(reportable).running
    notified = apply(
        reportable,
        NotifyIco(OFFICER, ReportType.INITIAL, submitted_at=T0 + timedelta(hours=20)),
        T0 + timedelta(hours=21),
    ).incident
    status = clock_status(notified)
    assert status.stopped_at == T0 + timedelta(hours=20) and not status.running
    assert status.deadline == T0 + timedelta(hours=72)  # still reported, never stored


def test_not_reportable_stops_the_clock_and_reopening_restarts_it():
    decided = apply(_assessed(), DecideNotReportable(OFFICER, "encrypted"), T0 + timedelta(hours=3)).incident
    assert clock_status(decided).stopped_at == T0 + timedelta(hours=3)
    reopened = apply(decided, Reopen(OFFICER, "key compromised"), T0 + timedelta(hours=80)).incident
    status = clock_status(reopened)
    assert status.running and status.remaining(T0 + timedelta(hours=80)) == timedelta(hours=-8)


def test_is_late_compares_with_the_deadline():
    incident = _confirmed()
    assert not is_late(incident, T0 + timedelta(hours=72))
    assert is_late(incident, T0 + timedelta(hours=72, seconds=1))
    assert not is_late(new_incident(lost_alert()), T0 + timedelta(days=30))  # nobody aware: no deadline
