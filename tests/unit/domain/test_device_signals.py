from __future__ import annotations

from datetime import timedelta

from collector.domain.alerts import AlertKind
from collector.domain.device_signals import DeviceSignalPolicy, sequence_gap_alerts, silent_device_alert
from collector.domain.event_facts import SeqRange

from .builders import T0

POLICY = DeviceSignalPolicy(max_silence=timedelta(days=3), gap_settle=timedelta(minutes=30))


def test_device_silent_longer_than_policy_raises_an_alert():
    assert silent_device_alert("dev-a", T0, T0 + timedelta(days=3), POLICY) is None
    alert = silent_device_alert("dev-a", T0, T0 + timedelta(days=3, seconds=1), POLICY)
    assert alert is not None
    assert (alert.kind, alert.device_id, alert.silent_since) == (AlertKind.DEVICE_SILENT, "dev-a", T0)


def test_gap_alerts_only_after_the_settle_period_and_stable_ids():
    gaps = [(SeqRange(5, 9), T0), (SeqRange(20, 20), T0 + timedelta(minutes=20))]
    alerts = sequence_gap_alerts("dev-a", gaps, T0 + timedelta(minutes=40), POLICY)
    assert [a.missing_seqs for a in alerts] == [SeqRange(5, 9)]
    again = sequence_gap_alerts("dev-a", gaps, T0 + timedelta(hours=5), POLICY)
    assert [a.missing_seqs for a in again] == [SeqRange(5, 9), SeqRange(20, 20)]
    assert again[0] == alerts[0]  # same gap, same alert (id and content)
    assert all(a.kind is AlertKind.SEQUENCE_GAP for a in again)
