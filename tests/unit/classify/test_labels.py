"""Sensitivity labels (custom properties, LabelInfo.xml) and protective markings."""

from __future__ import annotations

import pytest

from agent.classify.labels import find_labels, find_markings, label_candidates
from tests.unit.classify.documents import LABEL_GUID, OTHER_GUID, msip_properties

LABEL_MAP = {LABEL_GUID: "case-confidential", "Highly Confidential - Children": "children-restricted"}


def test_enabled_msip_label_maps_by_guid() -> None:
    assert find_labels(msip_properties(), (), LABEL_MAP) == ("case-confidential",)


def test_guid_match_ignores_case_and_braces() -> None:
    props = {f"MSIP_Label_{LABEL_GUID.upper()}_Enabled": "True"}
    assert find_labels(props, (), {"{" + LABEL_GUID.upper() + "}": "x"}) == ("x",)


def test_label_maps_by_name_when_guid_unknown() -> None:
    props = msip_properties(OTHER_GUID, name="Highly Confidential - Children")
    assert find_labels(props, (), LABEL_MAP) == ("children-restricted",)


def test_disabled_and_unmapped_labels_do_not_count() -> None:
    assert find_labels(msip_properties(enabled=False), (), LABEL_MAP) == ()
    assert find_labels(msip_properties(OTHER_GUID, name="Public"), (), LABEL_MAP) == ()
    assert find_labels(msip_properties(), (), {}) == ()


def test_label_info_entries() -> None:
    entry = {"id": "{" + LABEL_GUID + "}", "enabled": "1", "method": "Standard", "removed": "0"}
    assert find_labels({}, (entry,), LABEL_MAP) == ("case-confidential",)
    assert find_labels({}, ({**entry, "removed": "1"},), LABEL_MAP) == ()
    assert find_labels({}, ({**entry, "enabled": "0"},), LABEL_MAP) == ()


def test_candidates_collect_guid_and_name() -> None:
    assert label_candidates(msip_properties(name="Case Confidential"), ()) == {LABEL_GUID, "case confidential"}


@pytest.mark.parametrize(
    ("zones", "expected"),
    [
        ("OFFICIAL-SENSITIVE", ("OFFICIAL-SENSITIVE",)),
        ("OFFICIAL SENSITIVE", ("OFFICIAL-SENSITIVE",)),
        ("Official Sensitive", ("OFFICIAL-SENSITIVE",)),
        ("OFFICIAL-SENSITIVE: PERSONAL", ("OFFICIAL-SENSITIVE",)),
        ("Children's Services  |  OFFICIAL – SENSITIVE", ("OFFICIAL-SENSITIVE",)),
        ("SECRET", ("SECRET",)),
        ("TOP SECRET", ("TOP SECRET",)),
        ("TOP SECRET - UK EYES ONLY", ("TOP SECRET",)),
        ("PROTECT - PERSONAL", ("PROTECT",)),
        ("Page 3 of 7    RESTRICTED", ("RESTRICTED",)),
        ("RESTRICTED\nOFFICIAL-SENSITIVE", ("OFFICIAL-SENSITIVE", "RESTRICTED")),
    ],
)
def test_markings(zones: str, expected: tuple[str, ...]) -> None:
    assert find_markings(zones) == expected


@pytest.mark.parametrize(
    "zones",
    [
        "OFFICIAL",  # the baseline classification is not a caveat
        "HOW TO PROTECT CHILDREN ONLINE",
        "TRADE SECRET POLICY REVIEW",
        "The secret to a good assessment is listening",
        "Documents marked Official Sensitive must be stored on the council network and never copied "
        "to removable media or personal cloud storage.",  # prose about markings, not a marking
        "OFFICIALLY SENSITIVE TOPICS",
    ],
)
def test_not_markings(zones: str) -> None:
    assert find_markings(zones) == ()
