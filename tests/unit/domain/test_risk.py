from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.domain.errors import InvalidCommand
from collector.domain.risk import (
    Likelihood,
    Recommendation,
    RiskAssessment,
    RiskPolicy,
    Severity,
    confirm_assessment,
    score_assessment,
)

from .builders import T0

DEFAULT_POLICY = RiskPolicy()


def score(
    likelihood: int, severity: int, vulnerable: bool = False, policy: RiskPolicy = DEFAULT_POLICY, draft: bool = False
) -> RiskAssessment:
    return score_assessment(
        likelihood, severity, involves_vulnerable=vulnerable, rationale=("r",), assessed_at=T0, assessed_by="ig",
        draft=draft, policy=policy,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("likelihood", "severity", "reportable", "high"),
    [
        (2, 5, False, False),
        (3, 1, False, False),
        (3, 2, True, False),
        (4, 2, True, False),
        (4, 3, True, True),
        (5, 5, True, True),
    ],
)
def test_dspt_thresholds(likelihood, severity, reportable, high):
    a = score(likelihood, severity)
    assert (a.ico_reportable, a.high_risk) == (reportable, high)


def test_recommendations_follow_the_grid():
    assert score(1, 1).recommendation is Recommendation.RECORD_INTERNALLY
    assert score(3, 2).recommendation is Recommendation.REPORT_TO_ICO
    assert score(4, 3).recommendation is Recommendation.REPORT_AND_TELL_PEOPLE
    assert score(4, 4).recommendation is Recommendation.REPORT_ICO_DHSC_AND_TELL_PEOPLE
    assert "record internally" in Recommendation.RECORD_INTERNALLY


def test_vulnerable_groups_score_at_least_two_on_each_axis_and_say_so():
    a = score(1, 1, vulnerable=True)
    assert (a.likelihood, a.severity) == (Likelihood.NOT_LIKELY, Severity.MINOR)
    assert any("Children or vulnerable adults" in r for r in a.rationale)
    assert score(3, 3, vulnerable=True).rationale == ("r",)  # no floor line when nothing was raised


@given(st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_floor_and_reportability_hold_for_every_cell(likelihood, severity, vulnerable):
    a = score(likelihood, severity, vulnerable)
    floor = 2 if vulnerable else 1
    assert a.likelihood == max(likelihood, floor) and a.severity == max(severity, floor)
    assert a.ico_reportable == (a.likelihood >= 3 and a.severity >= 2)
    assert a.score == a.likelihood * a.severity


def test_thresholds_are_configurable():
    strict = RiskPolicy(ico_min_likelihood=2, ico_min_severity=2, vulnerable_floor=3)
    a = score(1, 1, vulnerable=True, policy=strict)
    assert (a.likelihood, a.severity, a.ico_reportable) == (3, 3, True)


def test_out_of_range_scores_are_refused():
    with pytest.raises(InvalidCommand):
        score(0, 3)
    with pytest.raises(InvalidCommand):
        score(3, 6)


def test_confirming_a_draft_makes_it_final_and_changes_need_a_note():
    draft = score(4, 4, vulnerable=True, draft=True)
    accepted = confirm_assessment(draft, by="ig.officer", at=T0)
    assert not accepted.draft and accepted.assessed_by == "ig.officer"
    assert (accepted.likelihood, accepted.severity) == (draft.likelihood, draft.severity)
    with pytest.raises(InvalidCommand):
        confirm_assessment(draft, by="ig.officer", at=T0, likelihood=2)
    with pytest.raises(InvalidCommand):
        confirm_assessment(draft, by=" ", at=T0)
    changed = confirm_assessment(draft, by="ig.officer", at=T0, likelihood=1, note="device recovered sealed")
    assert changed.likelihood == 2  # the vulnerable floor still applies
    assert changed.note == "device recovered sealed"
    assert sum("Children or vulnerable adults" in r for r in changed.rationale) == 1
