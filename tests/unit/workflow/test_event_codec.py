"""Stored protobuf bodies -> domain alerts and device posture."""

from __future__ import annotations

import pytest

from collector.domain.alerts import AlertKind
from collector.domain.event_facts import DestinationClass, EncryptionState
from collector.store.base import StoredEvent
from collector.wire.event_codec import EventDecodeError, alert_from_event, device_posture
from tests.unit.workflow.helpers import EGRESS, ENCRYPTED, LOCKED, NOT_ENCRYPTED, body

US = 1_760_950_800_000_000  # 2025-10-20T09:00:00Z


def _stored(kind: str, fields: dict, at_us: int = US, seq: int = 1) -> StoredEvent:
    return StoredEvent(
        "dev-a", f"00000000-0000-0000-0000-{seq:012d}", seq, kind, at_us, at_us + 5, "1.0", body(kind, fields)
    )


def test_egress_keeps_every_field() -> None:
    alert = alert_from_event(_stored("case_file_egress", EGRESS))
    assert alert is not None and alert.kind is AlertKind.CASE_FILE_EGRESS
    assert alert.destination_class is DestinationClass.REMOVABLE_VOLUME and alert.volume is not None
    assert alert.volume.label == "STICK" and alert.copy_burst_id == "burst-1"
    assert alert.identifier_counts == {"nhs_number": 2} and alert.markings == ("OFFICIAL-SENSITIVE",)
    assert alert.files[0].confidence == 1.0 and alert.files[0].file_name == "Child A.docx"


def test_found_lock_failed_and_lost_report() -> None:
    found = alert_from_event(
        _stored(
            "case_files_found",
            {"volume": EGRESS["volume"], "files": [EGRESS["file"]] * 2, "files_scanned": 9, "truncated": True},
        )
    )
    assert found is not None and len(found.files) == 2 and found.scan_truncated
    failed = alert_from_event(_stored("lock_failed", {"idle_seconds": 901, "methods_tried": ["loginctl"]}))
    assert failed is not None and failed.lock_failure is not None and failed.lock_failure.idle_seconds == 901
    lost = alert_from_event(
        _stored(
            "lost_device_report",
            {"device_name": "dev-a", "was_locked": False, "was_locked_known": True, "reported_by": "dev-b"},
        )
    )
    assert lost is not None and lost.kind is AlertKind.LOST_DEVICE and lost.lost_report is not None
    assert lost.lost_report.was_locked is False and lost.reporter_device_id == "dev-b"
    unknown = alert_from_event(_stored("lost_device_report", {"device_name": "dev-a", "was_locked": True}))
    assert unknown is not None and unknown.lost_report is not None and unknown.lost_report.was_locked is None
    assert alert_from_event(_stored("test", {"index": 1})) is None


def test_corrupt_bodies_raise_one_error() -> None:
    broken = StoredEvent("dev-a", "x", 1, "case_file_egress", US, US, "1.0", b"\xff\xff")
    with pytest.raises(EventDecodeError):
        alert_from_event(broken)


def test_posture_newest_word_on_each_fact_wins() -> None:
    assert device_posture({}) is None
    assert device_posture({"heartbeat": _stored("heartbeat", {"interval_s": 300})}) is None  # empty summary
    posture = device_posture(
        {
            "encryption_posture": _stored("encryption_posture", ENCRYPTED, US, 1),
            "lock_posture": _stored("lock_posture", LOCKED, US + 10, 2),
            "heartbeat": _stored("heartbeat", {"posture": {"protected_documents_indexed": 7}}, US + 20, 3),
        }
    )
    assert posture is not None
    assert posture.encryption is EncryptionState.ENCRYPTED and posture.encryption_method == "luks2"
    assert posture.os_lock_timeout_s == 300 and posture.password_on_wake is True
    assert posture.protected_documents_indexed == 7 and posture.observed_at.timestamp() * 1e6 == US + 20
    newer = device_posture(
        {
            "heartbeat": _stored("heartbeat", {"posture": {"encryption": "ENCRYPTION_STATE_ENCRYPTED"}}, US, 1),
            "encryption_posture": _stored("encryption_posture", NOT_ENCRYPTED, US + 10, 2),
        }
    )
    assert newer is not None and newer.encryption is EncryptionState.NOT_ENCRYPTED
    assert newer.os_lock_timeout_s is None and newer.password_on_wake is None  # a summary's zeros say nothing
