"""Drafted severity follows how sensitive the data is, not how much of it there is (issue 15, finding 6).

Sources:
- [DSPT-WEBINAR] NHS Digital, DSPT incident reporting webinar (slide "What is changing?"):
  "Number of people effected not a sensitivity factor anymore"; "Trigger for reporting is harm
  and impact".
- [DSPT] "Guide to the Notification of Data Security and Protection Incidents", severity scale:
  3 "Potentially some adverse effect" (e.g. release of confidential information leading to
  embarrassment), 4 "Potentially pain and suffering / financial loss".
- [GSC] Cabinet Office, Government Security Classifications: OFFICIAL-SENSITIVE marks
  information whose compromise could cause harm to individuals.
"""

from __future__ import annotations

from datetime import timedelta

from collector.domain.event_facts import DevicePosture, EncryptionState
from collector.domain.pre_assessment import pre_assess_egress, pre_assess_lost_device
from collector.domain.risk import Severity

from .builders import T0, egress_alert

NOW = T0 + timedelta(hours=1)


def test_one_child_protection_report_is_at_least_as_severe_as_ten_routine_files():
    """[DSPT-WEBINAR] the issue's case: one report drafted "minor", ten routine files "serious"."""
    child_protection = pre_assess_egress(
        [egress_alert(identifiers={}, reasons=("fingerprint",), markings=("OFFICIAL-SENSITIVE",))], NOW
    )
    routine = pre_assess_egress([egress_alert(identifiers={"nhs_number": 1}) for _ in range(10)], NOW)
    assert child_protection.severity is Severity.SERIOUS  # [GSC] marked: harm to people
    assert routine.severity is Severity.ADVERSE  # [DSPT] confidential case material
    assert child_protection.severity >= routine.severity


def test_a_single_confirmed_case_file_with_no_identifiers_is_not_minor():
    """[DSPT] a confirmed social-care case file is confidential: at least "adverse"."""
    one = pre_assess_egress([egress_alert(identifiers={}, reasons=("fingerprint",), confidence=0.87)], NOW)
    assert one.severity is Severity.ADVERSE


def test_volume_never_raises_the_drafted_severity():
    """[DSPT-WEBINAR] 1, 10 and 200 files of the same kind draft the same severity."""
    severities = {
        pre_assess_egress([egress_alert(identifiers={"nhs_number": 60}) for _ in range(n)], NOW).severity
        for n in (1, 10, 200)
    }
    assert severities == {Severity.ADVERSE}


def test_lost_laptop_severity_does_not_grow_with_the_number_of_documents():
    """[DSPT-WEBINAR] 3 documents or 300 on the laptop: the same severity."""

    def severity(docs: int) -> Severity:
        posture = DevicePosture(
            observed_at=T0, encryption=EncryptionState.NOT_ENCRYPTED, protected_documents_indexed=docs
        )
        return pre_assess_lost_device(posture, None, NOW).severity

    assert severity(3) == severity(300) == Severity.ADVERSE
    assert severity(0) == Severity.MINOR
