"""Property test: random command sequences against an independent model of the life cycle."""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from collector.domain.clocks import clock_status, deadline
from collector.domain.errors import DomainError
from collector.domain.incident import Incident, IncidentEvent, IncidentState, ReportType, SubjectsGround
from collector.domain.lifecycle import (
    Assess,
    Close,
    Command,
    CompleteTask,
    Confirm,
    CorrectAwareness,
    DecideNotReportable,
    DecideReportable,
    Dismiss,
    ExemptSubjects,
    InformSubjects,
    NotifyIco,
    RecordAction,
    RecordFamilyTold,
    RecordIcoOutcome,
    RecordNotification,
    Reopen,
    apply,
)
from collector.domain.risk import score_assessment
from collector.domain.snapshots import restore, snapshot

from .builders import T0, lost_alert, new_incident

S = IncidentState
E = IncidentEvent

# Written out by hand from the issue text, deliberately not imported from the code under test.
MODEL: dict[S, dict[E, S]] = {
    S.SUSPECTED: {E.CONFIRM: S.CONFIRMED, E.DISMISS: S.DISMISSED},
    S.DISMISSED: {E.REOPEN: S.SUSPECTED},
    S.CONFIRMED: {E.ASSESS: S.ASSESSED},
    S.ASSESSED: {E.ASSESS: S.ASSESSED, E.DECIDE_NOT_REPORTABLE: S.NOT_REPORTABLE, E.DECIDE_REPORTABLE: S.REPORTABLE},
    S.NOT_REPORTABLE: {E.CLOSE: S.CLOSED, E.REOPEN: S.CONFIRMED},
    S.REPORTABLE: {E.NOTIFY_ICO: S.ICO_NOTIFIED},
    S.ICO_NOTIFIED: {
        E.NOTIFY_ICO: S.ICO_NOTIFIED,
        E.INFORM_SUBJECTS: S.SUBJECTS_INFORMED,
        E.EXEMPT_SUBJECTS: S.SUBJECTS_EXEMPT,
    },
    S.SUBJECTS_INFORMED: {E.CLOSE: S.CLOSED},
    S.SUBJECTS_EXEMPT: {E.CLOSE: S.CLOSED},
    S.CLOSED: {E.REOPEN: S.CONFIRMED},
}
PROVISIONAL_START = T0  # the loss report below is received at T0
BREACH_AT = T0 - timedelta(hours=1)  # ... about a loss an hour earlier: nobody is aware before that
# Every state in which someone is aware allows an awareness correction (and it never moves the state).
AWARE_STATES = set(MODEL) - {S.SUSPECTED, S.DISMISSED}
# Mostly valid, so deep states are reached; sometimes blank, so the guards are exercised.
reasons = st.sampled_from(["a written reason", "because", "evidence", "", "  "])
ACTOR = "ig.officer"
# The order in which ``progress`` prefers steps: forward first, so deep states are reached.
FORWARD = [
    E.CONFIRM, E.DECIDE_REPORTABLE, E.DECIDE_NOT_REPORTABLE, E.ASSESS, E.INFORM_SUBJECTS, E.EXEMPT_SUBJECTS,
    E.NOTIFY_ICO, E.CLOSE, E.REOPEN, E.DISMISS,
]  # fmt: skip


def filled(text: str) -> bool:
    return bool(text.strip())


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0 + timedelta(minutes=30)
        self.incident = new_incident(lost_alert(at=T0 - timedelta(hours=1), received=PROVISIONAL_START))
        self.state = S.SUSPECTED
        self.aware_at: datetime | None = None
        self.has_initial = False
        self.known_reference = False

    def attempt(self, command: Command, guards_ok: bool) -> None:
        after_ico = {S.ICO_NOTIFIED, S.SUBJECTS_INFORMED, S.SUBJECTS_EXEMPT, S.CLOSED}
        stays = command.event in (E.RECORD_ACTION, E.COMPLETE_TASK) or (
            command.event is E.RECORD_ICO_OUTCOME and self.state in after_ico
        ) or (
            command.event in (E.CORRECT_AWARENESS, E.RECORD_NOTIFICATION, E.RECORD_FAMILY_TOLD)
            and self.state in AWARE_STATES
        )
        allowed = command.event in MODEL[self.state] or stays
        before = copy.deepcopy(self.incident)
        if allowed and guards_ok:
            result = apply(self.incident, command, self.now)
            target = self.state if stays else MODEL[self.state][command.event]
            assert result.incident.state is target
            assert (result.audit.action, result.audit.at, result.audit.actor) == (command.event, self.now, ACTOR)
            assert (result.audit.from_state, result.audit.to_state) == (self.state, target)
            self.incident, self.state = result.incident, target
        else:
            with pytest.raises(DomainError):
                apply(self.incident, command, self.now)
            assert self.incident == before

    @rule(step=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=20)))
    def time_passes(self, step):
        self.now += step

    @rule(hours_before_now=st.integers(min_value=-2, max_value=100), justification=reasons, reason=reasons)
    def confirm(self, hours_before_now, justification, reason):
        aware_at = self.now - timedelta(hours=hours_before_now)
        ok = filled(reason) and BREACH_AT <= aware_at <= self.now
        ok = ok and (aware_at <= PROVISIONAL_START or filled(justification))
        self.attempt(Confirm(ACTOR, reason, aware_at, justification), ok)
        if self.incident.aware_at is not None and self.aware_at is None:
            self.aware_at = aware_at

    @rule(hours_before_now=st.integers(min_value=-2, max_value=100), justification=reasons, reason=reasons)
    def correct_awareness(self, hours_before_now, justification, reason):
        aware_at = self.now - timedelta(hours=hours_before_now)
        ok = filled(reason) and BREACH_AT <= aware_at <= self.now and aware_at != self.aware_at
        ok = ok and (aware_at <= PROVISIONAL_START or filled(justification))
        corrections = len(self.incident.awareness_corrections)
        old = self.incident.aware_at
        self.attempt(CorrectAwareness(ACTOR, reason, aware_at, justification), ok)
        if len(self.incident.awareness_corrections) > corrections:
            last = self.incident.awareness_corrections[-1]
            assert (last.old_aware_at, last.new_aware_at, last.by) == (old, aware_at, ACTOR)
            self.aware_at = aware_at

    @rule(pick=st.sampled_from([None, None, 0, 1, 2]), ground=st.sampled_from(SubjectsGround))
    def progress(self, pick, ground):
        """Take one valid step out of the current state, so long paths are explored too."""
        events = sorted(MODEL[self.state], key=FORWARD.index)
        event = events[0] if pick is None else events[pick % len(events)]
        good = "a written reason"
        if event is E.CONFIRM:
            self.confirm(hours_before_now=1, justification=good, reason=good)
        elif event is E.NOTIFY_ICO:
            kind = ReportType.FOLLOW_UP if self.has_initial else ReportType.INITIAL
            self.notify(report_type=kind, late_reasons=good, reference="IC-123456")
        else:
            assessment = score_assessment(
                4, 4, involves_vulnerable=True, rationale=(), assessed_at=self.now, assessed_by=ACTOR, draft=False
            )
            commands: dict[E, Command] = {
                E.DISMISS: Dismiss(ACTOR, good),
                E.ASSESS: Assess(ACTOR, assessment),
                E.DECIDE_REPORTABLE: DecideReportable(ACTOR, good),
                E.DECIDE_NOT_REPORTABLE: DecideNotReportable(ACTOR, good),
                E.INFORM_SUBJECTS: InformSubjects(ACTOR, good),
                E.EXEMPT_SUBJECTS: ExemptSubjects(ACTOR, ground, good),
                E.CLOSE: Close(ACTOR, root_cause=good, lessons_learned=good),
                E.REOPEN: Reopen(ACTOR, good),
            }
            if event is E.CLOSE and not self.incident.actions:
                self.record_action(text=good)
            self.attempt(commands[event], True)

    @rule(reason=reasons, near_miss=st.booleans())
    def dismiss(self, reason, near_miss):
        before = len(self.incident.decisions)
        self.attempt(Dismiss(ACTOR, reason, near_miss), filled(reason))
        if len(self.incident.decisions) > before:  # dismissed now: a near miss is kept apart from a false match
            assert self.incident.near_miss is near_miss

    @rule(likelihood=st.integers(1, 5), severity=st.integers(1, 5), draft=st.booleans())
    def assess(self, likelihood, severity, draft):
        assessment = score_assessment(
            likelihood, severity, involves_vulnerable=True, rationale=(), assessed_at=self.now,
            assessed_by=ACTOR, draft=draft,
        )  # fmt: skip
        self.attempt(Assess(ACTOR, assessment), not draft)

    @rule(reportable=st.booleans(), reason=reasons)
    def decide(self, reportable, reason):
        command = DecideReportable(ACTOR, reason) if reportable else DecideNotReportable(ACTOR, reason)
        self.attempt(command, filled(reason))

    @rule(
        report_type=st.sampled_from(ReportType),
        late_reasons=reasons,
        reference=st.sampled_from(["", "IC-123456"]),
    )
    def notify(self, report_type, late_reasons, reference):
        expected_type = ReportType.FOLLOW_UP if self.has_initial else ReportType.INITIAL
        ok = report_type is expected_type
        if report_type is ReportType.INITIAL and self.aware_at is not None:
            ok = ok and (self.now <= self.aware_at + timedelta(hours=72) or filled(late_reasons))
        if report_type is ReportType.FOLLOW_UP:
            ok = ok and (filled(reference) or self.known_reference)
        before = self.state
        self.attempt(NotifyIco(ACTOR, report_type, ico_case_reference=reference, late_reasons=late_reasons), ok)
        if before is not self.state or (before is S.ICO_NOTIFIED and ok):
            self.has_initial = True
            self.known_reference = self.known_reference or filled(reference)

    @rule(how=reasons)
    def inform(self, how):
        self.attempt(InformSubjects(ACTOR, how), filled(how))

    @rule(ground=st.sampled_from(SubjectsGround), reason=reasons)
    def exempt(self, ground, reason):
        self.attempt(ExemptSubjects(ACTOR, ground, reason), filled(reason))

    @rule(note=reasons, root_cause=reasons, lessons=reasons)
    def close(self, note, root_cause, lessons):
        ok = filled(root_cause) and filled(lessons) and bool(self.incident.actions)
        self.attempt(Close(ACTOR, note, root_cause, lessons), ok)

    @rule(reason=reasons)
    def reopen(self, reason):
        self.attempt(Reopen(ACTOR, reason), filled(reason))

    @rule(body=st.sampled_from(["dspt", "police", "ofsted", ""]), reference=st.sampled_from(["", "CR/1/26"]))
    def tell(self, body, reference):
        ok = filled(body) and (body != "police" or filled(reference))
        before = len(self.incident.notifications)
        self.attempt(RecordNotification(ACTOR, body, reference), ok)
        assert len(self.incident.notifications) in (before, before + 1)

    @rule(label=st.sampled_from(["Family 1", "Family 2", " "]), how=reasons)
    def family_told(self, label, how):
        fresh = label.strip() not in {f.label for f in self.incident.families_told}
        self.attempt(RecordFamilyTold(ACTOR, label, how), filled(label) and filled(how) and fresh)

    @rule(task=st.sampled_from(["Manager told", "Service users advised", ""]), note=reasons)
    def complete_task(self, task, note):
        fresh = task not in {t.task for t in self.incident.tasks_done}
        self.attempt(CompleteTask(ACTOR, task, note), filled(task) and fresh)

    @rule(outcome=reasons)
    def ico_outcome(self, outcome):
        self.attempt(RecordIcoOutcome(ACTOR, outcome), filled(outcome))

    @invariant()
    def only_a_dismissed_incident_is_a_near_miss(self):
        assert not self.incident.near_miss or self.state is S.DISMISSED

    @invariant()
    def notifications_and_families_are_never_decisions(self):
        events = {d.event for d in self.incident.decisions}
        never = {E.RECORD_NOTIFICATION, E.RECORD_FAMILY_TOLD, E.COMPLETE_TASK, E.RECORD_ICO_OUTCOME, E.RECORD_ACTION}
        assert not events & never
        labels = [f.label for f in self.incident.families_told]
        assert len(labels) == len(set(labels))

    @rule(text=reasons)
    def record_action(self, text):
        self.attempt(RecordAction(ACTOR, text), filled(text))

    @invariant()
    def state_matches_model(self):
        assert self.incident.state is self.state

    @invariant()
    def aware_at_is_set_exactly_past_confirmed(self):
        assert (self.incident.aware_at is None) == (self.state in (S.SUSPECTED, S.DISMISSED))
        assert self.incident.aware_at == self.aware_at or self.state in (S.SUSPECTED, S.DISMISSED)

    @invariant()
    def corrections_chain_from_the_first_awareness_to_the_current_one(self):
        corrections = self.incident.awareness_corrections
        for earlier, later in itertools.pairwise(corrections):
            assert earlier.new_aware_at == later.old_aware_at
        if corrections and self.incident.aware_at is not None:
            assert corrections[-1].new_aware_at == self.incident.aware_at
        for c in corrections:
            assert c.new_aware_at >= BREACH_AT and c.reason.strip()

    @invariant()
    def deadline_is_always_aware_at_plus_72_hours(self):
        if self.incident.aware_at is not None:
            assert deadline(self.incident) == self.incident.aware_at + timedelta(hours=72)
            assert clock_status(self.incident).deadline == deadline(self.incident)
        else:
            assert deadline(self.incident) is None

    @invariant()
    def closed_only_via_a_decision(self):
        if self.state is S.CLOSED:
            moves = [d for d in self.incident.decisions if d.event is not E.CORRECT_AWARENESS]
            last = moves[-1]
            assert last.event is E.CLOSE
            closure = self.incident.closure
            assert closure is not None and closure.root_cause and closure.lessons_learned
            assert self.incident.actions
            assert last.from_state in (S.NOT_REPORTABLE, S.SUBJECTS_INFORMED, S.SUBJECTS_EXEMPT)
            decision = self.incident.reportability
            assert decision is not None
            if decision.reportable:
                assert self.incident.initial_submission is not None and self.incident.subjects is not None

    @invariant()
    def decisions_after_reopen_rest_on_a_fresh_assessment(self):
        assessed_since_reopen = False
        for record in self.incident.decisions:
            if record.event is E.REOPEN:
                assessed_since_reopen = False
            elif record.event is E.ASSESS:
                assessed_since_reopen = True
            elif record.event in (E.DECIDE_REPORTABLE, E.DECIDE_NOT_REPORTABLE):
                assert assessed_since_reopen
        if self.incident.decisions and self.incident.decisions[-1].event is E.REOPEN:
            assert self.incident.assessment is None and self.incident.reportability is None
            assert self.incident.subjects is None

    def teardown(self):
        # Whatever incident a run ends with survives a storage snapshot unchanged.
        assert restore(Incident, snapshot(self.incident)) == self.incident

    @invariant()
    def decision_history_is_a_connected_path(self):
        state = S.SUSPECTED
        for record in self.incident.decisions:
            assert record.from_state is state
            state = record.to_state
        assert state is self.state


LifecycleMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=50, deadline=None)
TestLifecycle = LifecycleMachine.TestCase
