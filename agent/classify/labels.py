"""Microsoft sensitivity labels and UK Government protective markings.

Pure, given the parts extraction returns. Labels come from custom properties
(``MSIP_Label_<GUID>_Enabled`` / ``_Name``) and docMetadata/LabelInfo.xml entries. A label counts when
its name is one of ``DEFAULT_SENSITIVE_LABELS`` (names are tenant-independent, GUIDs are not) or when its
GUID or name is in the policy's ``label_map``, which extends the defaults and overrides them (mapping a
default name to "" switches it off). Markings count where markings stand: any short line of a header or
footer, or a body line that holds little but the marking (the first lines, page and slide edges). Prose
that mentions "official sensitive" does not count.
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
# A body line "of its own" holds the marking and at most this many other words ("OFFICIAL-SENSITIVE:
# PERSONAL", "Case record - OFFICIAL SENSITIVE"), not a sentence about markings.
MAX_WORDS_BESIDE_MARKING = 3

# Sensitivity-label names that mark a document as sensitive in any tenant, reported under these names.
DEFAULT_SENSITIVE_LABELS: tuple[str, ...] = (
    "OFFICIAL-SENSITIVE",
    "Confidential",
    "Highly Confidential",
    "Sensitive",
    "Personal",
)
_NAME_PUNCTUATION = re.compile(r"[\W_]+")
_GUID_ONLY = re.compile(rf"\{{?{_GUID}\}}?")
_WORD = re.compile(r"[^\W_]+")


def normalise_label_key(key: str) -> str:
    """GUIDs lower case without braces; names case-folded with punctuation runs as one space.

    So "OFFICIAL-SENSITIVE", "Official Sensitive" and "official_sensitive" are one name.
    """
    key = key.strip()
    if _GUID_ONLY.fullmatch(key):
        return key.strip("{}").casefold()
    return _NAME_PUNCTUATION.sub(" ", key.casefold()).strip()


def effective_label_map(
    label_map: Mapping[str, str], defaults: Sequence[str] = DEFAULT_SENSITIVE_LABELS
) -> dict[str, str]:
    """Normalised GUID or name -> our name: the default names, then ``label_map`` over them ("" = ignore)."""
    mapping = {normalise_label_key(name): name for name in defaults}
    mapping.update({normalise_label_key(k): v for k, v in label_map.items()})
    return {k: v for k, v in mapping.items() if v}


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
    properties: Mapping[str, str],
    label_entries: Sequence[Mapping[str, str]],
    label_map: Mapping[str, str],
    defaults: Sequence[str] = DEFAULT_SENSITIVE_LABELS,
) -> tuple[str, ...]:
    """Our names for the sensitive labels applied to the document, sorted and unique.

    See ``effective_label_map`` for which labels count.
    """
    mapping = effective_label_map(label_map, defaults)
    if not mapping:
        return ()
    return tuple(sorted({mapping[c] for c in label_candidates(properties, label_entries) if c in mapping}))


def find_markings(zones: str, edges: str = "") -> tuple[str, ...]:
    """Protective markings where markings stand, canonical and unique, in ``ALL_MARKINGS`` order.

    ``zones`` are headers and footers: any short line there counts. ``edges`` are lines copied from the
    body (first lines, page and slide edges): there a marking counts only on a line of its own, with at
    most ``MAX_WORDS_BESIDE_MARKING`` other words. Descriptors after a marking ("OFFICIAL-SENSITIVE:
    PERSONAL", "PROTECT - PERSONAL") are accepted and reported under the base marking.
    """
    found: set[str] = set()
    for text, alone in ((zones, False), (edges, True)):
        for line in text.splitlines():
            line = line.strip()
            if not line or len(line) > MAX_MARKING_LINE:
                continue
            for name, pattern in _MARKINGS:
                m = pattern.search(line)
                if m and (not alone or _stands_alone(line, m.start(), m.end())):
                    found.add(name)
    return tuple(name for name in ALL_MARKINGS if name in found)


def _stands_alone(line: str, start: int, end: int) -> bool:
    beside = _WORD.findall(line[:start]) + _WORD.findall(line[end:])
    return len(beside) <= MAX_WORDS_BESIDE_MARKING
