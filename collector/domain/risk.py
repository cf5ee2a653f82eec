"""The likelihood x severity risk grid, after the NHS DSPT incident reporting tool.

Each axis runs 1..5. An incident involving children or vulnerable adults scores at least
2 on each. It is reportable to the ICO when likelihood >= 3 and severity >= 2; it is
"high risk" (Art. 34: tell the people affected) when likelihood >= 4 and severity >= 3.
The DSPT thresholds are from its guide; the high-risk thresholds are Caseguard's
default. All four are configurable in ``RiskPolicy``. Check the labels against the
current DSPT guide before relying on them in training material.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from collector.domain.errors import InvalidCommand
from collector.domain.instants import require_utc


class Likelihood(enum.IntEnum):
    """How likely it is that people will suffer an adverse effect (DSPT likelihood axis)."""

    NOT_OCCURRED = 1
    NOT_LIKELY = 2
    LIKELY = 3
    HIGHLY_LIKELY = 4
    OCCURRED = 5


class Severity(enum.IntEnum):
    """How bad the effect on people would be (DSPT severity axis)."""

    NO_ADVERSE_EFFECT = 1
    MINOR = 2
    ADVERSE = 3
    SERIOUS = 4
    CATASTROPHIC = 5


class Recommendation(enum.StrEnum):
    """What the grid says to do; the text is what an IG officer reads."""

    RECORD_INTERNALLY = "Unlikely to result in a risk: record internally"
    REPORT_TO_ICO = "Reportable: notify the ICO within 72 hours of becoming aware"
    REPORT_AND_TELL_PEOPLE = "Reportable, high risk: notify the ICO and tell the people affected (Art. 34)"


@dataclass(frozen=True)
class RiskPolicy:
    """Grid thresholds. Defaults follow the DSPT tool (ICO) and Caseguard's Art. 34 convention."""

    ico_min_likelihood: int = 3
    ico_min_severity: int = 2
    high_risk_min_likelihood: int = 4
    high_risk_min_severity: int = 3
    vulnerable_floor: int = 2


DEFAULT_RISK_POLICY = RiskPolicy()
_FLOOR_PREFIX = "Children or vulnerable adults involved:"


@dataclass(frozen=True)
class RiskAssessment:
    """A scored assessment with its reasons. ``draft`` is True until a person has confirmed it.

    ``rationale`` lines are generated from evidence and carry no personal data; ``note`` is
    the confirming person's own words and is kept out of the ICO draft.

    ``ico_reportable``, ``high_risk`` and ``recommendation`` are what the grid said under the
    policy in force when it was scored; they are stored so the record does not change if the
    policy later does.
    """

    likelihood: Likelihood
    severity: Severity
    involves_vulnerable: bool
    rationale: tuple[str, ...]
    ico_reportable: bool
    high_risk: bool
    recommendation: Recommendation
    draft: bool
    assessed_at: datetime
    assessed_by: str
    note: str = ""

    @property
    def score(self) -> int:
        """Likelihood times severity (1..25), for sorting and display."""
        return int(self.likelihood) * int(self.severity)


def score_assessment(
    likelihood: int,
    severity: int,
    *,
    involves_vulnerable: bool,
    rationale: tuple[str, ...],
    assessed_at: datetime,
    assessed_by: str,
    draft: bool,
    note: str = "",
    policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> RiskAssessment:
    """Score a likelihood and severity on the grid, applying the vulnerable-groups floor.

    When the floor raises a score, a line saying so is added to the rationale.
    """
    if not (1 <= likelihood <= 5 and 1 <= severity <= 5):
        raise InvalidCommand(f"likelihood and severity must each be 1..5; got {likelihood} and {severity}")
    reasons = list(rationale)
    lik, sev = likelihood, severity
    if involves_vulnerable:
        floor = policy.vulnerable_floor
        if lik < floor or sev < floor:
            reasons.append(f"{_FLOOR_PREFIX} each score raised to at least {floor}.")
        lik, sev = max(lik, floor), max(sev, floor)
    reportable = lik >= policy.ico_min_likelihood and sev >= policy.ico_min_severity
    high = reportable and lik >= policy.high_risk_min_likelihood and sev >= policy.high_risk_min_severity
    if high:
        recommendation = Recommendation.REPORT_AND_TELL_PEOPLE
    elif reportable:
        recommendation = Recommendation.REPORT_TO_ICO
    else:
        recommendation = Recommendation.RECORD_INTERNALLY
    return RiskAssessment(
        likelihood=Likelihood(lik),
        severity=Severity(sev),
        involves_vulnerable=involves_vulnerable,
        rationale=tuple(reasons),
        ico_reportable=reportable,
        high_risk=high,
        recommendation=recommendation,
        draft=draft,
        assessed_at=require_utc(assessed_at, "assessed_at"),
        assessed_by=assessed_by,
        note=note,
    )


def confirm_assessment(
    draft: RiskAssessment,
    *,
    by: str,
    at: datetime,
    likelihood: int | None = None,
    severity: int | None = None,
    involves_vulnerable: bool | None = None,
    note: str = "",
    policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> RiskAssessment:
    """A person accepts (and optionally changes) a draft; returns a non-draft assessment.

    Changing a score needs a note saying why.
    """
    if not by.strip():
        raise InvalidCommand("an assessment must be confirmed by a named person")
    changed = (likelihood is not None and likelihood != draft.likelihood) or (
        severity is not None and severity != draft.severity
    )
    if changed and not note.strip():
        raise InvalidCommand("changing the drafted scores needs a note saying why")
    return score_assessment(
        draft.likelihood if likelihood is None else likelihood,
        draft.severity if severity is None else severity,
        involves_vulnerable=draft.involves_vulnerable if involves_vulnerable is None else involves_vulnerable,
        rationale=tuple(r for r in draft.rationale if not r.startswith(_FLOOR_PREFIX)),
        assessed_at=at,
        assessed_by=by,
        draft=False,
        note=note.strip(),
        policy=policy,
    )
