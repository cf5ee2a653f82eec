from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.clocks import ClockKind, WarningKey, warnings_due
from collector.domain.incident import Incident, ReportType
from collector.domain.lifecycle import Assess, Confirm, DecideReportable, NotifyIco, apply
from collector.domain.risk import score_assessment

from .builders import T0, lost_alert, new_incident

OFFICER = "ig.officer"
H = timedelta(hours=1)
THRESHOLDS = (24 * H, 12 * H, 4 * H, 0 * H)


def confirmed(aware_offset: timedelta = timedelta(0)) -> Incident:
    incident = new_incident(lost_alert(received=T0))
    aware = T0 + aware_offset
    command = Confirm(
        OFFICER, "lost", aware_at=aware, justification="checked first" if aware_offset > timedelta(0) else ""
    )
    return apply(incident, command, aware + timedelta(minutes=1)).incident


def test_warnings_at_each_threshold_once():
    incident = confirmed()
    sent: set[WarningKey] = set()
    seen = []
    for minutes in range(0, 80 * 60, 15):
        for warning in warnings_due(incident, sent, T0 + timedelta(minutes=minutes)):
            sent.add(warning.key)
            seen.append((warning.key.threshold, minutes / 60))
    assert seen == [(24 * H, 48), (12 * H, 60), (4 * H, 68), (0 * H, 72)]


def test_nothing_before_24_hours_left():
    assert warnings_due(confirmed(), set(), T0 + timedelta(hours=47, minutes=59)) == ()


def test_after_downtime_only_the_most_urgent_crossed_threshold_is_sent():
    incident = confirmed()
    due = warnings_due(incident, set(), T0 + timedelta(hours=69))  # 3 hours left: 24 and 12 passed unseen
    assert [w.key for w in due] == [WarningKey(ClockKind.STATUTORY, 4 * H)]
    assert due[0].remaining == 3 * H
    sent = {due[0].key}
    assert warnings_due(incident, sent, T0 + timedelta(hours=70)) == ()  # 24 and 12 are never sent late
    overdue = warnings_due(incident, sent, T0 + timedelta(hours=73))
    assert [w.key.threshold for w in overdue] == [0 * H]
    assert "passed" in overdue[0].message and "reasons for the delay" in overdue[0].message


def test_message_gives_the_deadline_in_london_time():
    (warning,) = warnings_due(confirmed(), set(), T0 + timedelta(hours=50))
    assert "Thu 23 Oct 2025, 10:00 BST" in warning.message
    assert "22 h 00 min left" in warning.message


def test_no_warnings_once_the_ico_is_notified():
    incident = confirmed()
    a = score_assessment(4, 4, involves_vulnerable=True, rationale=(), assessed_at=T0, assessed_by=OFFICER, draft=False)
    incident = apply(incident, Assess(OFFICER, a), T0 + H).incident
    incident = apply(incident, DecideReportable(OFFICER, "x"), T0 + H).incident
    incident = apply(incident, NotifyIco(OFFICER, ReportType.INITIAL), T0 + 2 * H).incident
    assert warnings_due(incident, set(), T0 + 71 * H) == ()


def test_provisional_clock_warns_separately_from_the_statutory_clock():
    suspected = new_incident(lost_alert(received=T0))
    (provisional,) = warnings_due(suspected, set(), T0 + 50 * H)
    assert provisional.key == WarningKey(ClockKind.PROVISIONAL, 24 * H)
    assert "not yet confirmed" in provisional.message
    sent = {provisional.key}
    aware = apply(suspected, Confirm(OFFICER, "lost", aware_at=T0), T0 + 50 * H).incident
    (statutory,) = warnings_due(aware, sent, T0 + 50 * H)
    assert statutory.key == WarningKey(ClockKind.STATUTORY, 24 * H)


def test_no_clock_no_warnings():
    from .builders import lock_alert

    assert warnings_due(new_incident(lock_alert()), set(), T0 + 100 * H) == ()


def test_warning_key_text_is_stable():
    assert WarningKey(ClockKind.STATUTORY, 24 * H).as_text() == "statutory:86400"


@settings(max_examples=60, deadline=None)
@given(
    aware_offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=80)),
    steps=st.lists(st.timedeltas(min_value=timedelta(minutes=5), max_value=timedelta(hours=3, minutes=59)), min_size=1),
)
def test_small_steps_send_every_threshold_exactly_once_in_order(aware_offset, steps):
    """Steps shorter than the smallest gap between thresholds (4 h) never skip one."""
    incident = confirmed(aware_offset)
    now = T0 + aware_offset + timedelta(minutes=1)
    due = T0 + aware_offset + 72 * H
    sent: list[WarningKey] = []
    for step in itertools.cycle(steps):  # march on with the drawn steps until well past the deadline
        now += step
        if now > due + 5 * H:
            break
        for warning in warnings_due(incident, set(sent), now):
            assert warning.key not in sent
            remaining = due - now
            assert remaining <= warning.key.threshold
            assert all(remaining > t for t in THRESHOLDS if t < warning.key.threshold)  # the most urgent crossed
            sent.append(warning.key)
    assert [k.threshold for k in sent] == list(THRESHOLDS)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=30)), min_size=1, max_size=12
    )
)
def test_any_steps_send_each_threshold_at_most_once_and_never_less_urgent_later(steps):
    incident = confirmed()
    now = T0
    sent: list[WarningKey] = []
    for step in steps:
        now += step
        sent += [w.key for w in warnings_due(incident, set(sent), now)]
    assert len(sent) == len(set(sent))
    thresholds = [k.threshold for k in sent]
    assert thresholds == sorted(thresholds, reverse=True)
    if now >= T0 + 72 * H:
        assert thresholds and thresholds[-1] == timedelta(0)  # the overdue notice always gets out
