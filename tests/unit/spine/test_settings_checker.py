"""caseguard.settings' own checker, type by type: what it converts, and where each problem is located."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest

from caseguard.settings import (
    After,
    Alias,
    Before,
    Count,
    Invalid,
    OptionalPath,
    SettingsPath,
    check_value,
    explain,
    settings,
)


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@settings
@dataclass(frozen=True)
class Inner:
    size: Count = 1
    colours: tuple[Colour, ...] = ()


@settings
@dataclass(frozen=True)
class Outer:
    home: SettingsPath
    sender: Annotated[str, Alias("from")] = ""
    spare: OptionalPath = None
    inner: Inner = field(default_factory=Inner)
    labels: Mapping[str, str] = field(default_factory=dict)
    twice: Annotated[int, Before(lambda v: v * 2 if isinstance(v, int) else v), After(lambda v: v + 1)] = 0


def _problems(raw: object) -> list[tuple[str, tuple[object, ...]]]:
    with pytest.raises(Invalid) as caught:
        check_value(Outer, raw, context={"base_dir": "/base"})
    return [(p["type"], p["loc"]) for p in caught.value.problems]


def test_a_table_becomes_the_section_with_conversions_and_defaults():
    got = check_value(Outer, {"home": "h", "from": "it@council.example", "spare": "", "inner": {"size": 3,
                      "colours": ["red", "blue"]}, "labels": {"a": "b"}, "twice": 5}, context={"base_dir": "/base"})
    assert got == Outer(home=Path("/base/h"), sender="it@council.example", spare=None,
                        inner=Inner(size=3, colours=(Colour.RED, Colour.BLUE)), labels={"a": "b"}, twice=11)


def test_every_problem_is_found_and_located_by_key_path():
    raw = {"sender": "x", "inner": {"size": 0, "colours": ["red", "green"]}, "labels": {"a": 1}, "twice": "2"}
    assert sorted(_problems(raw), key=str) == sorted([
        ("missing", ("home",)),
        ("extra_forbidden", ("sender",)),  # the key is "from"
        ("setting", ("inner", "size")),
        ("enum", ("inner", "colours", 1)),
        ("string_type", ("labels", "a")),
        ("int_type", ("twice",)),  # "2" is not a number
    ], key=str)


def test_the_first_problem_reads_as_one_line_and_a_typo_is_the_news():
    with pytest.raises(Invalid) as caught:
        check_value(Outer, {"hom": "h"})
    assert explain(caught.value, Outer) == "hom: unknown key (did you mean home?)"
    with pytest.raises(Invalid) as caught:
        check_value(Outer, {"home": "h", "inner": {"colours": "red"}})
    assert explain(caught.value, Outer) == 'inner.colours: expected a list, got "red"'
    with pytest.raises(Invalid) as caught:
        check_value(Outer, {"home": "h", "inner": {"colours": ["green"]}})
    assert explain(caught.value, Outer) == (
        'inner.colours[0]: expected a known value, got "green" (must be one of: red or blue)'
    )


def test_scalars_are_strict():
    for raw, kind in [(1, "bool_type"), ("30", "float_type"), (True, "float_type"), (1.0, "int_type")]:
        tp = {"bool_type": bool, "float_type": float, "int_type": int}[kind]
        with pytest.raises(Invalid) as caught:
            check_value(tp, raw)
        assert caught.value.problems[0]["type"] == kind
    assert check_value(float, 30) == 30.0 and isinstance(check_value(float, 30), float)


def test_an_annotation_the_checker_does_not_know_is_a_programming_error_not_a_pass():
    with pytest.raises(TypeError):
        check_value(Annotated[int, object()], 1)


def test_a_home_folder_of_an_unknown_account_is_a_clear_refusal_not_a_traceback():
    with pytest.raises(Invalid) as caught:
        check_value(Outer, {"home": "~no-such-account-here/x"})
    assert explain(caught.value, Outer) == (
        'home: expected a path whose ~user is a known account, got "~no-such-account-here/x"'
    )
