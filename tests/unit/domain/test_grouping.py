from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.domain.alerts import Alert
from collector.domain.errors import GroupingError
from collector.domain.event_facts import DestinationClass
from collector.domain.grouping import (
    GroupingKeys,
    GroupingPolicy,
    GroupingRule,
    attach_alert,
    grouping_keys,
    place_alert,
    split_alert,
)
from collector.domain.incident import IncidentEvent, IncidentState
from collector.domain.lifecycle import Dismiss, apply

from .builders import T0, egress_alert, found_alert, lock_alert, lost_alert, new_incident

POLICY = GroupingPolicy(destination_window=timedelta(minutes=30), device_signal_window=timedelta(minutes=10))


def keys_for(*alerts: Alert, incident_id: str = "inc-1") -> GroupingKeys:
    incident = new_incident(alerts[0], incident_id)
    for a in alerts[1:]:
        incident = attach_alert(incident, a, a.received_at).incident
    return grouping_keys(incident)


def test_no_candidates_opens_a_new_incident():
    placement = place_alert(egress_alert(), [], POLICY)
    assert placement.opens_new and placement.rule is None


def test_same_device_and_destination_within_window_joins():
    keys = keys_for(egress_alert(at=T0))
    later = egress_alert(at=T0 + timedelta(minutes=30))
    assert place_alert(later, [keys], POLICY).incident_id == "inc-1"
    assert place_alert(later, [keys], POLICY).rule is GroupingRule.SAME_DESTINATION


def test_outside_window_or_other_destination_or_other_device_opens_new():
    keys = keys_for(egress_alert(at=T0))
    assert place_alert(egress_alert(at=T0 + timedelta(minutes=31)), [keys], POLICY).opens_new
    assert place_alert(egress_alert(at=T0, serial="other-stick"), [keys], POLICY).opens_new
    assert place_alert(egress_alert("dev-b", at=T0), [keys], POLICY).opens_new
    cloud = egress_alert(at=T0, destination=DestinationClass.PERSONAL_CLOUD, kind="onedrive_personal")
    assert place_alert(cloud, [keys], POLICY).opens_new


def test_window_extends_from_every_sighting_and_before_the_first():
    keys = keys_for(egress_alert(at=T0), egress_alert(at=T0 + timedelta(minutes=25)))
    assert place_alert(egress_alert(at=T0 + timedelta(minutes=50)), [keys], POLICY).incident_id == "inc-1"
    assert place_alert(egress_alert(at=T0 - timedelta(minutes=20)), [keys], POLICY).incident_id == "inc-1"


def test_files_found_on_the_same_volume_joins_the_egress_incident():
    keys = keys_for(egress_alert(at=T0))
    assert place_alert(found_alert(at=T0 + timedelta(minutes=5)), [keys], POLICY).incident_id == "inc-1"


def test_same_copy_burst_joins_even_outside_the_window():
    keys = keys_for(egress_alert(at=T0, burst="burst-1"))
    late = egress_alert(at=T0 + timedelta(hours=3), burst="burst-1", serial="other")
    placement = place_alert(late, [keys], POLICY)
    assert (placement.incident_id, placement.rule) == ("inc-1", GroupingRule.COPY_BURST)
    assert place_alert(egress_alert("dev-b", at=T0, burst="burst-1"), [keys], POLICY).opens_new


def test_same_lost_device_joins_reports_and_silence():
    from collector.domain.alerts import alert_for_silent_device

    keys = keys_for(lost_alert("dev-a"))
    second_report = lost_alert("dev-a", at=T0 + timedelta(days=2))
    silence = alert_for_silent_device("dev-a", T0, T0 + timedelta(days=15))
    assert place_alert(second_report, [keys], POLICY).rule is GroupingRule.LOST_DEVICE
    assert place_alert(silence, [keys], POLICY).incident_id == "inc-1"
    assert place_alert(lost_alert("dev-b"), [keys], POLICY).opens_new
    assert place_alert(egress_alert("dev-a"), [keys], POLICY).opens_new


def test_lock_failures_on_one_device_group_within_their_window():
    keys = keys_for(lock_alert(at=T0))
    assert (
        place_alert(lock_alert(at=T0 + timedelta(minutes=10)), [keys], POLICY).rule is GroupingRule.SAME_DEVICE_SIGNAL
    )
    assert place_alert(lock_alert(at=T0 + timedelta(minutes=11)), [keys], POLICY).opens_new


def test_more_specific_rule_wins_over_nearer_match():
    by_destination = keys_for(egress_alert(at=T0), incident_id="inc-a")
    by_burst = keys_for(egress_alert(at=T0 - timedelta(hours=2), burst="b1", serial="x"), incident_id="inc-z")
    alert = egress_alert(at=T0 + timedelta(minutes=1), burst="b1")
    assert place_alert(alert, [by_destination, by_burst], POLICY).incident_id == "inc-z"


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=-40, max_value=40), min_size=1, max_size=6),
    probe=st.integers(min_value=-60, max_value=60),
    data=st.data(),
)
def test_placement_does_not_depend_on_candidate_order(offsets, probe, data):
    candidates = [
        keys_for(egress_alert(at=T0 + timedelta(minutes=m)), incident_id=f"inc-{i}") for i, m in enumerate(offsets)
    ]
    alert = egress_alert(at=T0 + timedelta(minutes=probe))
    expected = place_alert(alert, candidates, POLICY)
    shuffled = data.draw(st.permutations(candidates))
    assert place_alert(alert, shuffled, POLICY) == expected
    distances = {f"inc-{i}": abs(probe - m) for i, m in enumerate(offsets)}
    if expected.opens_new:
        assert min(distances.values()) > 30
    else:
        best = min(distances.values())
        assert expected.incident_id is not None
        assert distances[expected.incident_id] == best <= 30
        assert expected.incident_id == min(k for k, d in distances.items() if d == best)


def test_attach_keeps_the_whole_alert_and_audits():
    first, second = egress_alert(at=T0), egress_alert(at=T0 + timedelta(minutes=2), markings=("OFFICIAL-SENSITIVE",))
    incident = new_incident(first)
    result = attach_alert(incident, second, T0 + timedelta(minutes=3), rule=GroupingRule.SAME_DESTINATION)
    assert result.incident.alerts == (first, second)
    assert result.incident.alerts[1] is second
    assert result.audit.action is IncidentEvent.ATTACH_ALERT
    assert result.audit.details["rule"] == "SAME_DESTINATION"
    assert result.incident.state is incident.state


def test_attach_refuses_duplicates_and_closed_incidents():
    alert = egress_alert()
    incident = new_incident(alert)
    with pytest.raises(GroupingError):
        attach_alert(incident, alert, T0)
    dismissed = apply(incident, Dismiss("ig.officer", "false match"), T0 + timedelta(hours=1)).incident
    with pytest.raises(GroupingError):
        attach_alert(dismissed, egress_alert(), T0 + timedelta(hours=2))


def test_split_moves_one_alert_to_a_new_suspected_incident():
    a, b, c = (
        egress_alert(at=T0),
        egress_alert(at=T0 + timedelta(minutes=1)),
        egress_alert(at=T0 + timedelta(minutes=2)),
    )
    incident = new_incident(a)
    for x in (b, c):
        incident = attach_alert(incident, x, x.received_at).incident
    now = T0 + timedelta(hours=1)
    result = split_alert(incident, b.alert_id, "inc-2", now, "ig.officer", "different stick, same label")
    assert result.remaining.incident.alerts == (a, c)
    assert result.split_off.incident.alerts == (b,)
    assert result.split_off.incident.state is IncidentState.SUSPECTED
    assert result.split_off.incident.opened_at == now
    assert result.remaining.audit.details == {"alert_id": b.alert_id, "split_to": "inc-2"}
    assert result.split_off.audit.details == {"alert_id": b.alert_id, "split_from": "inc-1"}


def test_split_refuses_unknown_alert_last_alert_and_missing_reason():
    a, b = egress_alert(), egress_alert()
    single = new_incident(a)
    with pytest.raises(GroupingError):
        split_alert(single, a.alert_id, "inc-2", T0, "ig", "why")
    pair = attach_alert(single, b, T0).incident
    with pytest.raises(GroupingError):
        split_alert(pair, "al-nope", "inc-2", T0, "ig", "why")
    with pytest.raises(GroupingError):
        split_alert(pair, b.alert_id, "inc-2", T0, "ig", "  ")
