from __future__ import annotations

from datetime import timedelta

import pytest

from collector.domain.errors import InvalidCommand
from collector.domain.event_facts import DestinationClass, DevicePosture, EncryptionState, LostDeviceFacts
from collector.domain.pre_assessment import pre_assess_egress, pre_assess_incident, pre_assess_lost_device
from collector.domain.risk import Likelihood, Recommendation, Severity

from .builders import T0, egress_alert, found_alert, lock_alert, lost_alert, new_incident

NOW = T0 + timedelta(hours=2)


def posture(
    encryption: EncryptionState = EncryptionState.ENCRYPTED,
    *,
    agent_lock: bool = True,
    timeout: int | None = 300,
    password: bool | None = True,
    docs: int = 120,
    age_days: int = 1,
) -> DevicePosture:
    return DevicePosture(
        observed_at=NOW - timedelta(days=age_days), encryption=encryption, encryption_method="luks2",
        lock_enforced_by_agent=agent_lock, os_lock_timeout_s=timeout, password_on_wake=password,
        protected_documents_indexed=docs,
    )  # fmt: skip


def test_encrypted_laptop_with_lock_enforced_is_unlikely_to_result_in_a_risk():
    a = pre_assess_lost_device(posture(), LostDeviceFacts(was_locked=None), NOW)
    assert a.draft
    assert a.likelihood == Likelihood.NOT_LIKELY  # 1, raised to 2 for children's data
    assert not a.ico_reportable and a.recommendation is Recommendation.RECORD_INTERNALLY
    assert any("encryption" in r.lower() for r in a.rationale)
    assert any("Art. 34(3)(a)" in r for r in a.rationale)


def test_unencrypted_laptop_with_case_files_is_high_risk_tell_the_people():
    a = pre_assess_lost_device(posture(EncryptionState.NOT_ENCRYPTED), LostDeviceFacts(), NOW)
    assert a.draft
    assert (a.likelihood, a.severity) == (Likelihood.HIGHLY_LIKELY, Severity.ADVERSE)
    assert a.ico_reportable and a.high_risk
    assert a.recommendation is Recommendation.REPORT_AND_TELL_PEOPLE
    assert "Art. 34" in a.recommendation


def test_encryption_does_not_help_when_the_session_may_have_been_open():
    no_lock = pre_assess_lost_device(posture(agent_lock=False, timeout=0), LostDeviceFacts(), NOW)
    assert no_lock.likelihood == Likelihood.LIKELY and no_lock.ico_reportable
    assert any("not enforced within policy" in r for r in no_lock.rationale)
    said_unlocked = pre_assess_lost_device(posture(), LostDeviceFacts(was_locked=False), NOW)
    assert said_unlocked.ico_reportable and any("not locked" in r for r in said_unlocked.rationale)
    no_password = pre_assess_lost_device(posture(password=None), LostDeviceFacts(), NOW)
    assert no_password.ico_reportable


def test_os_lock_timeout_within_policy_counts_without_the_agent_lock():
    ok = pre_assess_lost_device(posture(agent_lock=False, timeout=600), None, NOW)
    too_long = pre_assess_lost_device(posture(agent_lock=False, timeout=3600), None, NOW)
    assert not ok.ico_reportable and too_long.ico_reportable


def test_unknown_or_stale_posture_is_not_relied_on():
    unknown = pre_assess_lost_device(None, None, NOW, last_seen_at=NOW - timedelta(days=3))
    assert unknown.ico_reportable and unknown.severity == Severity.ADVERSE
    assert any("not known" in r for r in unknown.rationale)
    assert any("last heard from" in r.lower() for r in unknown.rationale)
    stale = pre_assess_lost_device(posture(age_days=90), None, NOW)
    assert stale.ico_reportable and any("not relied on" in r for r in stale.rationale)


def test_lost_device_draft_never_reads_free_text():
    report = LostDeviceFacts("LAPTOP-7", NOW, "Jane Example left it at the Example family home", None, "notes", "jane")
    a = pre_assess_lost_device(posture(EncryptionState.NOT_ENCRYPTED), report, NOW)
    assert not any("Example" in r or "jane" in r for r in a.rationale)


def test_personal_cloud_copy_is_likelier_than_removable_volume_and_personal_folder():
    cloud = pre_assess_egress([egress_alert(destination=DestinationClass.PERSONAL_CLOUD, kind="dropbox_personal")], NOW)
    usb = pre_assess_egress([egress_alert()], NOW)
    folder = pre_assess_egress([egress_alert(destination=DestinationClass.PERSONAL_FOLDER, kind="configured")], NOW)
    assert cloud.likelihood > usb.likelihood > folder.likelihood
    assert cloud.draft and usb.draft
    assert any("encrypted is not known" in r for r in usb.rationale)
    assert usb.ico_reportable and not folder.ico_reportable


def test_low_confidence_lowers_likelihood():
    sure = pre_assess_egress([egress_alert(confidence=0.95)], NOW)
    unsure = pre_assess_egress([egress_alert(confidence=0.4, reasons=("content",))], NOW)
    assert unsure.likelihood == sure.likelihood - 1
    assert any("check these are case files" in r for r in unsure.rationale)


def test_duplicates_count_once():
    same_file = [egress_alert(file_hash="h-same"), egress_alert(file_hash="h-same")]
    assert any("1 distinct case files" in r for r in pre_assess_egress(same_file, NOW).rationale)


def test_egress_draft_mentions_truncated_scans_and_markings():
    a = pre_assess_egress([found_alert(), egress_alert(markings=("OFFICIAL-SENSITIVE",))], NOW)
    assert any("OFFICIAL-SENSITIVE" in r for r in a.rationale)
    truncated = found_alert()
    from dataclasses import replace

    assert any("more files" in r for r in pre_assess_egress([replace(truncated, scan_truncated=True)], NOW).rationale)


def test_egress_draft_needs_an_egress_alert():
    with pytest.raises(InvalidCommand):
        pre_assess_egress([lock_alert()], NOW)


def test_pre_assess_incident_picks_the_right_draft():
    lost = new_incident(lost_alert(was_locked=False))
    drafted = pre_assess_incident(lost, NOW, posture=posture())
    assert drafted is not None and any("not locked" in r for r in drafted.rationale)
    copied = new_incident(egress_alert(destination=DestinationClass.PERSONAL_CLOUD, kind="icloud"))
    drafted = pre_assess_incident(copied, NOW)
    assert drafted is not None and drafted.likelihood == Likelihood.HIGHLY_LIKELY
    assert pre_assess_incident(new_incident(lock_alert()), NOW) is None
