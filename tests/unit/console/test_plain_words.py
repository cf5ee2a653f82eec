"""Pages speak to IG officers and staff, not to engineers (issue 15, finding 10).

The issue: copy-burst UUIDs, alert ids and "exact, fingerprint" reached the incident page;
device names like vm-460581 meant nothing to staff; date pickers followed the browser's
locale, so 3 December showed as 12/03 in a US-locale browser.
"""

from __future__ import annotations

from datetime import UTC, datetime

from collector.console.presenters import device_label, local_input, why_case_file
from collector.domain.clocks import format_london
from tests.unit.domain.builders import egress_alert


def test_classifier_reason_codes_become_words():
    alert = egress_alert(reasons=("exact", "fingerprint"), confidence=1.0)
    text = why_case_file(alert)
    assert "exact copy of a known case file" in text and "matches a known case file" in text
    assert "confidence 100%" in text
    assert "exact," not in text and "fingerprint" not in text


def test_devices_are_named_with_their_owner_where_known():
    assert device_label("vm-460581", {"vm-460581": ["sam.jones"]}) == "vm-460581 (sam.jones)"
    assert device_label("vm-460581", {}) == "vm-460581"


def test_dates_read_the_same_in_every_locale():
    moment = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert format_london(moment) == "Thu 3 Dec 2026, 09:30 GMT"
    assert local_input(moment) == "2026-12-03 09:30"  # ISO order in inputs, not the browser's picker
