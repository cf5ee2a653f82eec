"""The likelihood x severity grid of the NHS DSPT incident reporting guide, and the Art. 34 judgement.

Source: NHS Digital, "Guide to the Notification of Data Security and Protection
Incidents" (DSPT), breach assessment grid. Each axis runs 1..5 with the guide's labels
(``LIKELIHOOD_TEXT``, ``SEVERITY_TEXT``). Any incident involving vulnerable groups
(children, vulnerable adults) scores at least 2 on each axis. The grid's bands:

- not reportable (green): likelihood < 3 ("likely") or severity < 2 ("minor");
- reportable to the ICO (amber): likelihood >= 3 and severity >= 2;
- reportable to the ICO *and* DHSC (red): reportable, and severity >= 4 ("serious").

The number of people affected is not a sensitivity factor in the guide: nothing here
reads it.

High risk (Art. 34: tell the people affected) is a separate judgement, after the ICO's
guidance: "the severity of the potential impact" and "the likelihood" are weighed
together, and a high risk can exist where the consequences are severe even though they
are less likely. So a reportable breach is high risk when its severity is serious or worse
(``high_risk_severity_alone``), or when it is highly likely (>= 4) with an adverse effect
(>= 3). ``grid_cell`` says, for each cell, which of these rules applies, so the console
legend can name it. All thresholds are in ``RiskPolicy``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from collector.domain.errors import InvalidCommand
from collector.domain.instants import require_utc


class Likelihood(enum.IntEnum):
    """How likely it is that people's rights have been affected (DSPT likelihood axis)."""

    NOT_OCCURRED = 1
    NOT_LIKELY = 2
    LIKELY = 3
    HIGHLY_LIKELY = 4
    OCCURRED = 5


class Severity(enum.IntEnum):
    """How bad the adverse effect on people would be (DSPT severity axis)."""

    NO_ADVERSE_EFFECT = 1
    MINOR = 2
    ADVERSE = 3
    SERIOUS = 4
    CATASTROPHIC = 5


# The guide's labels for each score, as an IG officer reads them on the grid.
LIKELIHOOD_TEXT: Mapping[Likelihood, str] = {
    Likelihood.NOT_OCCURRED: "Not occurred",
    Likelihood.NOT_LIKELY: "Not likely, or any incident involving vulnerable groups",
    Likelihood.LIKELY: "Likely",
    Likelihood.HIGHLY_LIKELY: "Highly likely",
    Likelihood.OCCURRED: "Occurred",
}
SEVERITY_TEXT: Mapping[Severity, str] = {
    Severity.NO_ADVERSE_EFFECT: "No adverse effect",
    Severity.MINOR: "Minor, or any incident involving vulnerable groups",
    Severity.ADVERSE: "Adverse",
    Severity.SERIOUS: "Serious",
    Severity.CATASTROPHIC: "Catastrophic",
}

_ICO_DEADLINE = "without undue delay and, where feasible, within 72 hours of becoming aware"


class Recommendation(enum.StrEnum):
    """What the grid says to do; the text is what an IG officer reads."""

    RECORD_INTERNALLY = "Unlikely to result in a risk: record internally"
    REPORT_TO_ICO = f"Reportable: notify the ICO {_ICO_DEADLINE}"
    REPORT_AND_TELL_PEOPLE = (
        f"Reportable, high risk: notify the ICO {_ICO_DEADLINE}, and tell the people affected without undue "
        "delay (Art. 34)"
    )
    REPORT_TO_ICO_AND_DHSC = f"Reportable to the ICO and DHSC (severity serious or worse): notify {_ICO_DEADLINE}"
    REPORT_ICO_DHSC_AND_TELL_PEOPLE = (
        f"Reportable to the ICO and DHSC (severity serious or worse): notify {_ICO_DEADLINE}, and tell the "
        "people affected without undue delay (Art. 34)"
    )

    @classmethod
    def _missing_(cls, value: object) -> Recommendation | None:
        # Snapshots written before the DSPT wording was adopted keep restoring.
        return _OLD_RECOMMENDATIONS.get(str(value))


_OLD_RECOMMENDATIONS: Mapping[str, Recommendation] = {
    "Reportable: notify the ICO within 72 hours of becoming aware": Recommendation.REPORT_TO_ICO,
    "Reportable, high risk: notify the ICO and tell the people affected (Art. 34)": (
        Recommendation.REPORT_AND_TELL_PEOPLE
    ),
}


class GridBand(enum.StrEnum):
    """The DSPT grid's colour for a cell."""

    NOT_REPORTABLE = "not_reportable"  # green
    ICO = "ico"  # amber
    ICO_AND_DHSC = "ico_and_dhsc"  # red


@dataclass(frozen=True)
class RiskPolicy:
    """Grid thresholds. Defaults follow the DSPT guide (ICO, DHSC) and the ICO's Art. 34 guidance."""

    ico_min_likelihood: int = 3
    ico_min_severity: int = 2
    high_risk_min_likelihood: int = 4
    high_risk_min_severity: int = 3
    vulnerable_floor: int = 2
    dhsc_min_severity: int = 4
    high_risk_severity_alone: int = 4


DEFAULT_RISK_POLICY = RiskPolicy()
_FLOOR_PREFIX = "Children or vulnerable adults involved:"


@dataclass(frozen=True)
class GridCell:
    """One cell of the grid: its DSPT band, whether it is high risk, and the rules that say so."""

    likelihood: int
    severity: int
    band: GridBand
    high_risk: bool
    band_rule: str
    high_risk_rule: str

    @property
    def ico_reportable(self) -> bool:
        """True in the amber and red bands."""
        return self.band is not GridBand.NOT_REPORTABLE


def grid_cell(likelihood: int, severity: int, policy: RiskPolicy = DEFAULT_RISK_POLICY) -> GridCell:
    """Where (likelihood, severity) falls on the grid, with the rule that put it there in words."""
    lik, sev, p = likelihood, severity, policy
    if lik < p.ico_min_likelihood or sev < p.ico_min_severity:
        band = GridBand.NOT_REPORTABLE
        band_rule = (
            f"DSPT: not reportable (reportable needs likelihood at least {p.ico_min_likelihood} and severity at "
            f"least {p.ico_min_severity})"
        )
    elif sev >= p.dhsc_min_severity:
        band = GridBand.ICO_AND_DHSC
        band_rule = (
            f"DSPT: report to the ICO and DHSC (likelihood at least {p.ico_min_likelihood}, severity at least "
            f"{p.dhsc_min_severity})"
        )
    else:
        band = GridBand.ICO
        band_rule = (
            f"DSPT: report to the ICO (likelihood at least {p.ico_min_likelihood}, severity "
            f"{p.ico_min_severity}-{p.dhsc_min_severity - 1})"
        )
    high, high_rule = False, "Art. 34: not high risk"
    if band is not GridBand.NOT_REPORTABLE:
        if sev >= p.high_risk_severity_alone:
            high = True
            high_rule = (
                f"Art. 34 high risk: severity {sev} is serious or worse, which makes the risk high even if less "
                "likely (ICO guidance)"
            )
        elif lik >= p.high_risk_min_likelihood and sev >= p.high_risk_min_severity:
            high = True
            high_rule = (
                f"Art. 34 high risk: likelihood at least {p.high_risk_min_likelihood} with severity at least "
                f"{p.high_risk_min_severity}"
            )
    return GridCell(lik, sev, band, high, band_rule, high_rule)


def grid(policy: RiskPolicy = DEFAULT_RISK_POLICY) -> tuple[tuple[GridCell, ...], ...]:
    """The whole 5 x 5 grid as rows, severity 5 first, likelihood 1..5 within a row."""
    return tuple(tuple(grid_cell(lik, sev, policy) for lik in range(1, 6)) for sev in range(5, 0, -1))


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
    dhsc_reportable: bool | None = None

    def __post_init__(self) -> None:
        if self.dhsc_reportable is None:
            # Snapshots from before the DHSC band: the DSPT's own rule, on the stored scores.
            dhsc = self.ico_reportable and self.severity >= DEFAULT_RISK_POLICY.dhsc_min_severity
            object.__setattr__(self, "dhsc_reportable", dhsc)

    @property
    def band(self) -> GridBand:
        """The DSPT band this assessment fell in when it was scored."""
        if not self.ico_reportable:
            return GridBand.NOT_REPORTABLE
        return GridBand.ICO_AND_DHSC if self.dhsc_reportable else GridBand.ICO

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
    cell = grid_cell(lik, sev, policy)
    reportable, high, dhsc = cell.ico_reportable, cell.high_risk, cell.band is GridBand.ICO_AND_DHSC
    if dhsc and high:
        recommendation = Recommendation.REPORT_ICO_DHSC_AND_TELL_PEOPLE
    elif dhsc:
        recommendation = Recommendation.REPORT_TO_ICO_AND_DHSC
    elif high:
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
        dhsc_reportable=dhsc,
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
