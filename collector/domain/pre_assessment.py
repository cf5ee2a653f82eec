"""Draft risk assessments from evidence, for a person to confirm (never a decision by themselves).

Lost device: the device's last posture decides. Full-disk encryption with the session
locked (agent lock on, or an OS lock timeout within policy, or reported locked) and a
password on wake makes the data unintelligible to a finder: likelihood is scored low and
the grid says "record internally". No encryption makes exposure highly likely and, with
case files on the device, the grid says "high risk: tell the people affected".

Egress: where the files went (personal cloud > removable volume > personal folder on the
managed laptop) and how sure the classifier was decide the likelihood; how sensitive the
files are decides the severity.

Severity follows sensitivity, never volume. The DSPT guide dropped the number of people
affected as a sensitivity factor (NHS Digital, DSPT incident reporting: "Number of people
effected not a sensitivity factor anymore"): one child-protection report is as severe as
a hundred. A confirmed children's social-care case file is confidential information whose
release would at least embarrass or distress (DSPT severity 3, "adverse"); a protective
marking of OFFICIAL-SENSITIVE or above says its release could cause harm (4, "serious").
Counts still appear in the rationale, as facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.domain.alerts import Alert, AlertKind
from collector.domain.errors import InvalidCommand
from collector.domain.event_facts import DestinationClass, DevicePosture, EncryptionState, LostDeviceFacts
from collector.domain.incident import Incident
from collector.domain.instants import require_optional_utc, require_utc
from collector.domain.risk import (
    DEFAULT_RISK_POLICY,
    Likelihood,
    RiskAssessment,
    RiskPolicy,
    Severity,
    score_assessment,
)

DRAFT_AUTHOR = "caseguard (draft)"


@dataclass(frozen=True)
class PreAssessmentPolicy:
    """Evidence thresholds used when drafting. Defaults suit children's social care."""

    max_os_lock_timeout: timedelta = timedelta(minutes=15)
    max_posture_age: timedelta = timedelta(days=30)
    assume_vulnerable: bool = True
    high_confidence: float = 0.9
    low_confidence: float = 0.6
    # Kept so existing configuration still loads; no longer used: volume is not a sensitivity factor.
    serious_file_count: int = 10
    serious_identifier_count: int = 50
    sensitive_markings: frozenset[str] = frozenset(
        {"OFFICIAL-SENSITIVE", "OFFICIAL SENSITIVE", "SECRET", "TOP SECRET", "RESTRICTED", "CONFIDENTIAL"}
    )


DEFAULT_PRE_ASSESSMENT_POLICY = PreAssessmentPolicy()

_EGRESS_LIKELIHOOD: dict[DestinationClass, tuple[Likelihood, str]] = {
    DestinationClass.PERSONAL_CLOUD: (
        Likelihood.HIGHLY_LIKELY,
        "Copied to a personal cloud account, outside the organisation's control.",
    ),
    DestinationClass.REMOVABLE_VOLUME: (
        Likelihood.LIKELY,
        "Copied to a removable volume; whether that volume is encrypted is not known.",
    ),
    DestinationClass.PERSONAL_FOLDER: (
        Likelihood.NOT_LIKELY,
        "Copied to a personal folder that is still on the managed laptop.",
    ),
    DestinationClass.UNSPECIFIED: (Likelihood.LIKELY, "Destination not known: treated as outside control."),
}


def _lock_within_policy(posture: DevicePosture, policy: PreAssessmentPolicy) -> bool:
    if posture.lock_enforced_by_agent:
        return True
    timeout = posture.os_lock_timeout_s
    return timeout is not None and 0 < timeout <= policy.max_os_lock_timeout.total_seconds()


_VOLUME_NOTE = "The number of files or people does not change the severity (DSPT: not a sensitivity factor)."


def _severity_for_documents(count: int | None) -> tuple[Severity, str]:
    if count is None:
        return Severity.ADVERSE, "Whether case files were on the device is not known: treated as if they were."
    if count == 0:
        return Severity.MINOR, "No protected documents were indexed on the device."
    return Severity.ADVERSE, (
        f"{count} protected documents were indexed on the device: children's social-care case files. "
        "Raise the severity if they include child-protection, health or other especially sensitive details. "
        + _VOLUME_NOTE
    )


def pre_assess_lost_device(
    posture: DevicePosture | None,
    report: LostDeviceFacts | None,
    now: datetime,
    *,
    last_seen_at: datetime | None = None,
    policy: PreAssessmentPolicy = DEFAULT_PRE_ASSESSMENT_POLICY,
    risk_policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> RiskAssessment:
    """Draft an assessment for a lost or stolen device from its last known posture.

    ``posture`` older than ``policy.max_posture_age`` is not relied on. ``report`` supplies
    whether the reporter says it was locked; its free text is not read.
    """
    current = require_utc(now, "now")
    last_seen = require_optional_utc(last_seen_at, "last_seen_at")
    reasons: list[str] = []
    if last_seen is not None:
        reasons.append(f"Device last heard from {_age(current - last_seen)} before this draft.")
    if posture is not None and current - posture.observed_at > policy.max_posture_age:
        reasons.append(f"Last posture is {_age(current - posture.observed_at)} old: not relied on.")
        posture = None
    was_locked = report.was_locked if report else None

    if posture is None:
        encryption = EncryptionState.UNSPECIFIED
        documents: int | None = None
    else:
        encryption = posture.encryption
        documents = posture.protected_documents_indexed

    if posture is not None and encryption is EncryptionState.ENCRYPTED:
        method = f" ({posture.encryption_method})" if posture.encryption_method else ""
        reasons.append(f"Full-disk encryption was on{method}.")
        locked = (_lock_within_policy(posture, policy) or was_locked is True) and was_locked is not False
        if locked and posture.password_on_wake is True:
            likelihood = Likelihood.NOT_OCCURRED
            reasons.append(
                "The session locks within policy and needs a password on wake: the data is unintelligible "
                "to a finder while the key is safe (Art. 34(3)(a))."
            )
        else:
            likelihood = Likelihood.LIKELY
            reasons.append(_weak_lock_reason(posture, was_locked, policy))
    elif encryption is EncryptionState.NOT_ENCRYPTED:
        likelihood = Likelihood.HIGHLY_LIKELY
        reasons.append("The disk was not encrypted: anyone holding the device can read its files.")
    elif encryption is EncryptionState.PARTIAL:
        likelihood = Likelihood.LIKELY
        reasons.append("The disk was only partly encrypted: some files may be readable.")
    else:
        likelihood = Likelihood.LIKELY
        reasons.append("Encryption is not known: treated as reportable until shown otherwise.")

    severity, why = _severity_for_documents(documents)
    reasons.append(why)
    return score_assessment(
        likelihood,
        severity,
        involves_vulnerable=policy.assume_vulnerable,
        rationale=tuple(reasons),
        assessed_at=current,
        assessed_by=DRAFT_AUTHOR,
        draft=True,
        policy=risk_policy,
    )


def _weak_lock_reason(posture: DevicePosture, was_locked: bool | None, policy: PreAssessmentPolicy) -> str:
    problems: list[str] = []
    if was_locked is False:
        problems.append("the reporter says it was not locked")
    if not _lock_within_policy(posture, policy):
        problems.append("the screen lock was not enforced within policy")
    if posture.password_on_wake is not True:
        problems.append("a password on wake was not confirmed")
    detail = "; ".join(problems) or "the lock state is not known"
    return f"Encryption does not protect a running, unlocked session: {detail}."


def pre_assess_egress(
    alerts: Sequence[Alert],
    now: datetime,
    *,
    policy: PreAssessmentPolicy = DEFAULT_PRE_ASSESSMENT_POLICY,
    risk_policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> RiskAssessment:
    """Draft an assessment for case files copied out (egress and found-on-volume alerts).

    Other alert kinds in ``alerts`` are ignored; at least one egress alert is required.
    """
    current = require_utc(now, "now")
    relevant = [a for a in alerts if a.kind in (AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND)]
    if not relevant:
        raise InvalidCommand("an egress pre-assessment needs at least one egress or found-on-volume alert")
    reasons: list[str] = []

    likelihood, why = max((_EGRESS_LIKELIHOOD[a.destination_class] for a in relevant), key=lambda p: p[0])
    reasons.append(why)
    confidence = max((a.confidence or 0.0) for a in relevant)
    if confidence >= policy.high_confidence:
        reasons.append(f"Highest match confidence {confidence:.2f}: a confirmed copy of case files.")
    elif confidence < policy.low_confidence:
        likelihood = Likelihood(max(1, likelihood - 1))
        reasons.append(f"Highest match confidence only {confidence:.2f}: check these are case files.")
    else:
        reasons.append(f"Highest match confidence {confidence:.2f}.")

    hashes = {h for a in relevant for h in a.file_hashes}
    files = len(hashes) or sum(len(a.files) for a in relevant)
    identifiers = sum(sum(a.identifier_counts.values()) for a in relevant)
    markings = sorted({m for a in relevant for m in a.markings})
    if any(a.scan_truncated for a in relevant):
        reasons.append("A volume scan stopped at its limit: there may be more files.")
    reasons.append(f"{files} distinct case files; {identifiers} personal identifiers found in them.")
    if markings:
        reasons.append(f"Protective markings: {', '.join(markings)}.")
    sensitive = [m for m in markings if m.upper() in policy.sensitive_markings]
    if sensitive:
        severity = Severity.SERIOUS
        reasons.append(
            f"Marked {', '.join(sensitive)}: release could harm the people it is about (severity serious)."
        )
    elif confidence >= policy.low_confidence or identifiers > 0 or markings:
        severity = Severity.ADVERSE
        reasons.append(
            "Confidential social-care case material about children: release would at least cause distress "
            "(severity adverse). Raise it if the files include child-protection, health or other especially "
            "sensitive details."
        )
    else:
        severity = Severity.MINOR
        reasons.append("Not yet certain these are case files: severity minor until checked.")
    reasons.append(_VOLUME_NOTE)
    return score_assessment(
        likelihood,
        severity,
        involves_vulnerable=policy.assume_vulnerable,
        rationale=tuple(reasons),
        assessed_at=current,
        assessed_by=DRAFT_AUTHOR,
        draft=True,
        policy=risk_policy,
    )


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.0f} days"


def pre_assess_incident(
    incident: Incident,
    now: datetime,
    *,
    posture: DevicePosture | None = None,
    last_seen_at: datetime | None = None,
    policy: PreAssessmentPolicy = DEFAULT_PRE_ASSESSMENT_POLICY,
    risk_policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> RiskAssessment | None:
    """The draft that fits the incident: lost device (loss report or silence) first, then egress.

    ``posture`` and ``last_seen_at`` are the lost device's, from the store. Returns None for
    incidents with nothing to draft from (lock failures and sequence gaps alone).
    """
    kinds = {a.kind for a in incident.alerts}
    if kinds & {AlertKind.LOST_DEVICE, AlertKind.DEVICE_SILENT}:
        report = next((a.lost_report for a in incident.alerts if a.lost_report is not None), None)
        return pre_assess_lost_device(
            posture, report, now, last_seen_at=last_seen_at, policy=policy, risk_policy=risk_policy
        )
    if kinds & {AlertKind.CASE_FILE_EGRESS, AlertKind.CASE_FILES_FOUND}:
        return pre_assess_egress(incident.alerts, now, policy=policy, risk_policy=risk_policy)
    return None
