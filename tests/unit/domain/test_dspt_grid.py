"""The risk grid against its sources.

Sources (cited per test):
- [DSPT] NHS Digital, "Guide to the Notification of Data Security and Protection Incidents",
  breach assessment grid: likelihood 1 Not occurred .. 5 Occurred, severity 1 No adverse
  effect .. 5 Catastrophic; reportable to the ICO when at least "likely" (3) and at least
  "minor" (2); to DHSC as well when severity is "serious" (4) or worse; incidents involving
  vulnerable groups score at least 2 on each axis. NHS Digital's DSPT incident reporting
  webinar (slide "What is reportable?"): "ICO - ... (at least) likely that there is a risk
  ... and that the impact is (at least) minor"; slide "What is changing?": "Number of
  people effected not a sensitivity factor anymore".
- [ICO-A34] ICO, "Personal data breaches: a guide", When do we need to tell individuals?:
  "assess both the severity of the potential or actual impact on individuals ... and the
  likelihood of this occurring. If the impact of the breach is more severe, the risk is
  higher; if the likelihood of the consequences is greater, then again the risk is higher."
  A high risk can therefore follow from severity even when harm is only "likely".
- [ICO-72H] ICO privacy notice, "Report a breach": "Organisations must report any personal
  data breach to us without undue delay and, where feasible, within 72 hours."
"""

from __future__ import annotations

import pytest

from collector.domain.risk import (
    LIKELIHOOD_TEXT,
    SEVERITY_TEXT,
    GridBand,
    Likelihood,
    Recommendation,
    RiskAssessment,
    Severity,
    grid,
    grid_cell,
    score_assessment,
)
from collector.domain.snapshots import restore, snapshot

from .builders import T0


def score(likelihood: int, severity: int, vulnerable: bool = False) -> RiskAssessment:
    return score_assessment(
        likelihood, severity, involves_vulnerable=vulnerable, rationale=(), assessed_at=T0, assessed_by="ig",
        draft=False,
    )  # fmt: skip


def test_axes_carry_the_dspt_labels():
    """[DSPT] the grid's axis labels, in order."""
    assert [LIKELIHOOD_TEXT[x].split(",")[0] for x in Likelihood] == [
        "Not occurred", "Not likely", "Likely", "Highly likely", "Occurred",
    ]  # fmt: skip
    assert [SEVERITY_TEXT[x].split(",")[0] for x in Severity] == [
        "No adverse effect", "Minor", "Adverse", "Serious", "Catastrophic",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("likelihood", "severity", "band"),
    [
        (2, 5, GridBand.NOT_REPORTABLE),  # not likely x catastrophic: below the likelihood threshold
        (5, 1, GridBand.NOT_REPORTABLE),  # occurred x no adverse effect
        (3, 2, GridBand.ICO),  # likely x minor: the lowest reportable cell
        (5, 3, GridBand.ICO),
        (3, 4, GridBand.ICO_AND_DHSC),  # likely x serious: DHSC too
        (5, 5, GridBand.ICO_AND_DHSC),
    ],
)
def test_bands_follow_the_dspt_grid(likelihood, severity, band):
    """[DSPT] ICO when >= likely and >= minor; ICO and DHSC when also >= serious."""
    assert grid_cell(likelihood, severity).band is band
    assert score(likelihood, severity).band is band
    assert score(likelihood, severity).dhsc_reportable is (band is GridBand.ICO_AND_DHSC)


def test_the_whole_grid_has_exactly_the_dspt_shape():
    """[DSPT] 5 x 5: 10 green cells (likelihood 1-2, or severity 1), 6 amber, 6 red."""
    bands = [c.band for row in grid() for c in row]
    assert bands.count(GridBand.NOT_REPORTABLE) == 13  # likelihood 1-2 (10) plus severity 1 at likelihood 3-5 (3)
    assert bands.count(GridBand.ICO) == 6  # likelihood 3-5 x severity 2-3
    assert bands.count(GridBand.ICO_AND_DHSC) == 6  # likelihood 3-5 x severity 4-5


def test_likely_and_catastrophic_is_high_risk():
    """[ICO-A34] severe consequences make the risk high even if they are only likely (3 x 5)."""
    a = score(3, 5)
    assert a.high_risk
    assert a.recommendation is Recommendation.REPORT_ICO_DHSC_AND_TELL_PEOPLE
    assert "serious or worse" in grid_cell(3, 5).high_risk_rule


def test_likely_and_adverse_is_reportable_but_not_high_risk():
    """[ICO-A34] neither more severe nor more likely than "likely x adverse": notify the ICO only."""
    a = score(3, 3)
    assert a.ico_reportable and not a.high_risk
    assert a.recommendation is Recommendation.REPORT_TO_ICO


def test_highly_likely_and_adverse_is_high_risk_by_likelihood():
    """[ICO-A34] greater likelihood raises the risk: 4 x 3 is high, and the rule says why."""
    cell = grid_cell(4, 3)
    assert cell.high_risk and cell.band is GridBand.ICO
    assert "likelihood at least 4" in cell.high_risk_rule


def test_every_cell_names_the_rule_that_coloured_it():
    """The legend can say, for any cell, which rule applied (DSPT band and Art. 34)."""
    for row in grid():
        for c in row:
            assert c.band_rule.startswith("DSPT: ")
            assert c.high_risk_rule.startswith("Art. 34")


def test_recommendations_use_the_statutory_wording():
    """[ICO-72H] "without undue delay and, where feasible, within 72 hours"."""
    for rec in Recommendation:
        if rec is not Recommendation.RECORD_INTERNALLY:
            assert "without undue delay and, where feasible, within 72 hours" in rec


def test_vulnerable_groups_floor_makes_a_no_harm_incident_not_likely_and_minor():
    """[DSPT] vulnerable groups score at least 2 on each axis."""
    a = score(1, 1, vulnerable=True)
    assert (a.likelihood, a.severity) == (Likelihood.NOT_LIKELY, Severity.MINOR)
    assert a.band is GridBand.NOT_REPORTABLE


def test_assessments_stored_before_the_dhsc_band_restore_with_it():
    """An old snapshot (no dhsc_reportable, old recommendation text) restores with the DSPT band."""
    data = snapshot(score(4, 4))
    assert isinstance(data, dict)
    del data["dhsc_reportable"]
    data["recommendation"] = "Reportable, high risk: notify the ICO and tell the people affected (Art. 34)"
    old = restore(RiskAssessment, data)
    assert old.dhsc_reportable is True and old.recommendation is Recommendation.REPORT_AND_TELL_PEOPLE
