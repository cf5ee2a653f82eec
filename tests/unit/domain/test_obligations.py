"""Every body that must be told, each with its own clock and rule (issue 15, "Obligations").

Sources:
- [ART33] UK GDPR Art. 33(1): the ICO, "without undue delay and, where feasible, not later than
  72 hours after having become aware".
- [DSPT] "Guide to the Notification of Data Security and Protection Incidents": organisations
  on the DSPT report reportable incidents through it within 72 hours; incidents graded
  severity "serious" (4) or worse go to DHSC as well.
- [ART34] UK GDPR Art. 34(1): tell the people affected "without undue delay" when the breach
  is likely to result in a high risk; Art. 34(2) the content of that communication.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from collector.domain.errors import InvalidCommand, MissingReason
from collector.domain.ico_prefill import OrgProfile
from collector.domain.incident import Incident, ReportType
from collector.domain.lifecycle import (
    Assess,
    Confirm,
    DecideNotReportable,
    DecideReportable,
    NotifyIco,
    RecordAction,
    RecordFamilyTold,
    RecordNotification,
    apply,
)
from collector.domain.obligations import ObligationPolicy, ObligationSpec, ObligationState, obligations
from collector.domain.risk import score_assessment
from collector.domain.subject_letter import draft_letter

from .builders import T0, egress_alert, lost_alert, new_incident

OFFICER = "ig.officer"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def assessed(incident: Incident, likelihood: int, severity: int) -> Incident:
    incident = apply(incident, Confirm(OFFICER, "confirmed", aware_at=T0), at(1)).incident
    a = score_assessment(likelihood, severity, involves_vulnerable=True, rationale=(), assessed_at=at(1),
                         assessed_by=OFFICER, draft=False)  # fmt: skip
    return apply(incident, Assess(OFFICER, a), at(1)).incident


def by_key(incident: Incident, policy: ObligationPolicy | None = None) -> dict[str, Any]:
    return {o.key: o for o in obligations(incident, policy or ObligationPolicy())}


def test_a_high_risk_lost_laptop_owes_the_ico_the_dspt_with_dhsc_the_families_and_a_police_decision():
    """[ART33] [DSPT] [ART34]: four obligations, each with its own due time."""
    incident = assessed(new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0)), 4, 4)
    o = by_key(incident)
    assert o["ico"].state is ObligationState.DUE and o["ico"].due == at(72)
    assert o["dspt"].state is ObligationState.DUE and "DHSC" in o["dspt"].title
    assert o["people"].state is ObligationState.DUE and o["people"].due == at(72)
    assert o["police"].state is ObligationState.TO_DECIDE and o["police"].due == at(24)
    assert o["ico"].overdue(at(73)) and not o["ico"].overdue(at(71))


def test_a_not_reportable_decision_clears_the_ico_and_dspt_obligations():
    incident = assessed(new_incident(egress_alert(at=T0)), 1, 2)
    incident = apply(incident, DecideNotReportable(OFFICER, "encrypted stick"), at(2)).incident
    o = by_key(incident)
    assert o["ico"].state is o["dspt"].state is ObligationState.NOT_NEEDED
    assert o["people"].state is ObligationState.NOT_NEEDED
    assert "police" not in o  # no device was lost


def test_each_obligation_is_done_by_its_own_record():
    incident = assessed(new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0)), 4, 4)
    incident = apply(incident, DecideReportable(OFFICER, "unencrypted"), at(2)).incident
    incident = apply(incident, NotifyIco(OFFICER, ReportType.INITIAL, ico_case_reference="IC-1"), at(3)).incident
    incident = apply(incident, RecordNotification(OFFICER, "dspt", "DSPT-19-0001"), at(3)).incident
    with pytest.raises(MissingReason, match="crime reference"):
        apply(incident, RecordNotification(OFFICER, "police"), at(4))
    incident = apply(incident, RecordNotification(OFFICER, "police", "CR/123/26"), at(4)).incident
    incident = apply(incident, RecordFamilyTold(OFFICER, "Family 1", "letter"), at(5)).incident
    o = by_key(incident)
    assert o["ico"].state is o["dspt"].state is o["police"].state is ObligationState.DONE
    assert (o["ico"].recorded_reference, o["police"].recorded_reference) == ("IC-1", "CR/123/26")
    assert o["people"].state is ObligationState.IN_PROGRESS and o["people"].detail == "1 family told"
    with pytest.raises(InvalidCommand, match="already recorded"):
        apply(incident, RecordFamilyTold(OFFICER, "Family 1", "call"), at(6))


def test_families_can_be_told_before_the_ico_is():
    """[ART34] "without undue delay" does not wait for the ICO report (issue finding 8)."""
    incident = assessed(new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0)), 5, 5)
    told = apply(incident, RecordFamilyTold(OFFICER, "Family 1", "home visit"), at(2)).incident
    assert told.families_told[0].label == "Family 1"


def test_configured_bodies_have_their_own_window():
    ofsted = ObligationSpec("ofsted", "Ofsted", "Notification of a serious incident", timedelta(days=5))
    incident = assessed(new_incident(egress_alert(at=T0)), 4, 3)
    o = by_key(incident, ObligationPolicy(others=(ofsted,)))
    assert o["ofsted"].state is ObligationState.DUE and o["ofsted"].due == T0 + timedelta(days=5)


def test_the_letter_gives_what_art_34_2_asks_in_plain_words_and_no_names():
    """[ART34] nature of the breach, DPO contact, likely consequences, measures taken."""
    incident = assessed(new_incident(lost_alert(at=T0 - timedelta(hours=1), received=T0)), 4, 4)
    incident = apply(incident, RecordAction(OFFICER, "The laptop was wiped remotely."), at(2)).incident
    org = OrgProfile("Northshire Council", "Z1", dpo_name="Dee Peo", dpo_email="dpo@northshire.example")
    text = draft_letter(incident, org)
    assert "a work laptop holding information about your family was lost or stolen" in text  # nature
    assert "Dee Peo, dpo@northshire.example" in text  # DPO contact
    assert "What this may mean for you" in text  # likely consequences
    assert "- The laptop was wiped remotely." in text  # measures
    for secret in ("Jane Example", "Example family", "LAPTOP-0042"):
        assert secret not in text
