"""The README's Layout section tells the truth about the tree: every package and module named, nothing gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def _entries() -> list[tuple[str, str]]:
    """(folder, description) for each entry; continuation lines join their entry."""
    entries: list[tuple[str, str]] = []
    for line in _layout_block().splitlines():
        if not line.strip():
            continue
        if line.startswith(" "):
            folder, text = entries[-1]
            entries[-1] = (folder, text + " " + line.strip())
        else:
            head, _, text = line.partition("   ")
            entries.append((head.strip(), text.strip()))
    return entries


def _folders() -> set[str]:
    """Every folder the layout names; ``agent/lock/ posture/`` names agent/lock and agent/posture."""
    out: set[str] = set()
    for head, _ in _entries():
        first, *rest = head.split()
        out.add(first.rstrip("/"))
        parent = first.rstrip("/").rsplit("/", 1)[0]
        out.update(f"{parent}/{r.rstrip('/')}" for r in rest)
    return out


def test_every_folder_in_the_layout_exists() -> None:
    missing = sorted(f for f in _folders() if not (ROOT / f).is_dir())
    assert missing == []


def test_every_package_is_in_the_layout() -> None:
    packages = {
        str(p.parent.relative_to(ROOT)) for top in ("agent", "collector") for p in (ROOT / top).glob("*/__init__.py")
    }
    assert packages - _folders() == set()


def test_every_top_level_module_is_named_in_the_layout() -> None:
    described = dict(_entries())
    for top in ("agent", "collector"):
        words = set(re.findall(r"[a-z_]+", described[f"{top}/"]))
        modules = {p.stem for p in (ROOT / top).glob("*.py")} - {"__init__", "__main__"}
        assert modules - words == set(), top


def test_transport_is_where_enrolment_is() -> None:
    described = dict(_entries())
    assert "enrolment" in described["agent/transport/"] and (ROOT / "agent/transport/enrollment.py").is_file()
