"""Microsoft sensitivity labels and UK Government protective markings.

Pure, given the parts extraction returns. Labels come from custom properties
(``MSIP_Label_<GUID>_Enabled`` / ``_Name``) and docMetadata/LabelInfo.xml entries; only labels named in
the policy's ``label_map`` (by GUID or by name) are reported, under our name for them. Markings are
looked for in headers, footers and first lines, on short lines only (a marking stands alone; prose
that mentions "official sensitive" does not count).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_MSIP = re.compile(rf"MSIP_Label_\{{?({_GUID})\}}?_(\w+)")
_TRUE = frozenset({"true", "1", "yes"})

# Canonical marking -> pattern. OFFICIAL-SENSITIVE is matched in any case (often typed "Official Sensitive")
# anywhere on a short line. The others only in capitals and at the start or end of a line, as markings
# are written, so headings such as "HOW TO PROTECT CHILDREN" are not taken for markings.
def _edge(word: str) -> re.Pattern[str]:
    return re.compile(rf"^\W*{word}\b|\b{word}\W*$")


_MARKINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("OFFICIAL-SENSITIVE", re.compile(r"\bOFFICIAL[\s\-‐–_:]*SENSITIVE\b", re.IGNORECASE)),
    ("TOP SECRET", _edge(r"TOP[\s\-]+SECRET")),
    ("SECRET", re.compile(r"^\W*SECRET\b|(?<!TOP )(?<!TOP-)\bSECRET\W*$")),
    ("PROTECT", _edge("PROTECT")),
    ("RESTRICTED", _edge("RESTRICTED")),
)
ALL_MARKINGS: tuple[str, ...] = tuple(name for name, _ in _MARKINGS)
MAX_MARKING_LINE = 100


def normalise_label_key(key: str) -> str:
    """GUIDs lower case without braces; names case-folded and trimmed."""
    return key.strip().strip("{}").casefold()


def label_candidates(properties: Mapping[str, str], label_entries: Sequence[Mapping[str, str]]) -> set[str]:
    """Normalised GUIDs and names of every label applied (enabled, not removed) to the document."""
    by_guid: dict[str, dict[str, str]] = {}
    for name, value in properties.items():
        m = _MSIP.fullmatch(name)
        if m:
            by_guid.setdefault(m.group(1).lower(), {})[m.group(2).lower()] = value
    found: set[str] = set()
    for guid, fields in by_guid.items():
        if fields.get("enabled", "").strip().lower() in _TRUE:
            found.add(guid)
            if fields.get("name"):
                found.add(normalise_label_key(fields["name"]))
    for entry in label_entries:
        if entry.get("enabled", "").strip().lower() in _TRUE and entry.get("removed", "0").strip() not in _TRUE:
            if entry.get("id"):
                found.add(normalise_label_key(entry["id"]))
            if entry.get("name"):
                found.add(normalise_label_key(entry["name"]))
    return found


def find_labels(
    properties: Mapping[str, str], label_entries: Sequence[Mapping[str, str]], label_map: Mapping[str, str]
) -> tuple[str, ...]:
    """Our names for the mapped labels applied to the document, sorted and unique."""
    if not label_map:
        return ()
    mapping = {normalise_label_key(k): v for k, v in label_map.items()}
    return tuple(sorted({mapping[c] for c in label_candidates(properties, label_entries) if c in mapping}))


def find_markings(zones: str) -> tuple[str, ...]:
    """Protective markings on short lines of ``zones`` (headers, footers, first lines), canonical and unique.

    Descriptors after a marking ("OFFICIAL-SENSITIVE: PERSONAL", "PROTECT - PERSONAL") are accepted and
    reported under the base marking.
    """
    found: set[str] = set()
    for line in zones.splitlines():
        line = line.strip()
        if not line or len(line) > MAX_MARKING_LINE:
            continue
        for name, pattern in _MARKINGS:
            if pattern.search(line):
                found.add(name)
    return tuple(name for name in ALL_MARKINGS if name in found)
