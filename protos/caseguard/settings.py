"""Typed settings shared by the agent and the collector: value rules, validation and one-line errors.

Each settings section is a frozen dataclass whose fields carry one of the value types below
(``Positive``, ``Fraction``, ``SettingsPath`` ...), so a rule is written once and means the same
in agent.toml, collector.toml, the central policy and the environment. ``validate`` checks raw
TOML (or environment) values against such a dataclass and turns the first problem into one line
naming the file, the key path, what was expected and what was found::

    agent.toml: retry.jitter: expected a number, got an array

The checker is our own, about 150 lines for the few types settings use (strict scalars, paths,
lists, tables, enums, optional values, nested sections, ``Before``/``After`` hooks). It replaced
pydantic, which did the same job but cost each agent process about 16 MB of its 80 MB budget
(issue 12) and a quarter of a second at start.

Pure: nothing here reads files or the environment.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import enum
import functools
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar

T = TypeVar("T")
C = TypeVar("C", bound=type)

_RULE = "setting"  # the problem type of every rule declared here
_FORBID = "__caseguard_settings__"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def settings(cls: C) -> C:
    """Mark a dataclass as a settings section: unknown keys are refused (a typo must not pass silently)."""
    setattr(cls, _FORBID, True)
    return cls


@dataclasses.dataclass(frozen=True)
class Before:
    """Annotated marker: ``fn`` turns the raw value into what the type checks (run before it, last first)."""

    fn: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class After:
    """Annotated marker: ``fn`` checks (and may replace) the typed value, in order; with ``context``
    it also receives the validation context (a mapping, e.g. ``base_dir``)."""

    fn: Callable[..., Any]
    context: bool = False


@dataclasses.dataclass(frozen=True)
class Alias:
    """Annotated marker: the key that names this field in a file or the environment."""

    name: str


class _Finite:
    """Annotated marker: a number that must be finite (no inf or nan)."""


FINITE = _Finite()


class Refused(ValueError):
    """What a rule raises: the value is not ``expected`` (see ``refuse``)."""

    def __init__(self, ctx: dict[str, Any]) -> None:
        super().__init__(f"expected {ctx['expected']}")
        self.ctx = ctx


def refuse(expected: str, found: Any = dataclasses.MISSING, key: str = "", detail: str = "") -> Refused:
    """The error a rule raises: ``expected`` is a phrase such as "a number above 0".

    ``key`` names a field below the one being validated (for checks across fields), ``found``
    the offending value when it is not the validated input itself, ``detail`` extra words.
    """
    ctx: dict[str, Any] = {"expected": expected, "key": key, "detail": detail}
    if found is not dataclasses.MISSING:
        ctx["found"] = found
    return Refused(ctx)


def rule(expected: str, ok: Callable[[Any], bool]) -> After:
    """A check for ``Annotated[...]``: values for which ``ok`` is false are refused as not ``expected``."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise refuse(expected)
        return value

    return After(check)


# -- value types ------------------------------------------------------------------------
# Strict scalars: TOML's true is not 1.0 and "30" is not 30. Integers are accepted as numbers;
# inf and nan are not (a timer of inf seconds cannot be set).

Flag = bool
Text = str
NonEmptyText = Annotated[str, rule("a non-empty string", bool)]
# Words shown to staff in a desktop notification (Windows takes at most 32,767 characters on a
# command line, and the toast's text travels base64-encoded in it).
NoticeText = Annotated[str, rule("a non-empty string of at most 500 characters", lambda v: 0 < len(v) <= 500)]
Number = Annotated[float, FINITE]
Positive = Annotated[float, FINITE, rule("a number above 0", lambda v: v > 0)]
NonNegative = Annotated[float, FINITE, rule("a number of at least 0", lambda v: v >= 0)]
Fraction = Annotated[float, rule("a number from 0 to 1", lambda v: 0 <= v <= 1)]
# A score a value must reach ("at or above this"): 0 would let everything through.
Threshold = Annotated[float, rule("a number above 0 and at most 1", lambda v: 0 < v <= 1)]
Count = Annotated[int, rule("a whole number above 0", lambda v: v > 0)]
Score = Annotated[int, rule("a whole number from 1 to 5", lambda v: 1 <= v <= 5)]
Port = Annotated[int, rule("a port number (1 to 65535)", lambda v: 0 < v < 65536)]
_HASH32 = re.compile(r"[0-9a-f]{32}")
# A keyed identifier hash (caseguard.identifiers), as `caseguard-collector policy set --identifiers` writes it.
IdentifierHash = Annotated[str, rule("32 lower-case hexadecimal characters (a keyed identifier hash)",
                                               lambda v: _HASH32.fullmatch(v) is not None)]  # fmt: skip

# Durations are capped at ten years: beyond that, timers and timedelta overflow.
_YEARS_10_S = 10 * 365 * 24 * 3600


def _within(unit_s: int, zero: bool) -> Callable[[float], bool]:
    return lambda v: (v >= 0 if zero else v > 0) and v <= _YEARS_10_S / unit_s


Seconds = Annotated[float, rule("a number of seconds above 0, at most ten years", _within(1, False))]
SecondsOrZero = Annotated[float, rule("a number of seconds from 0 to ten years", _within(1, True))]
Minutes = Annotated[float, rule("a number of minutes above 0, at most ten years", _within(60, False))]
HoursOrZero = Annotated[float, rule("a number of hours from 0 to ten years", _within(3600, True))]
Days = Annotated[float, rule("a number of days above 0, at most ten years", _within(86400, False))]
HostPort = Annotated[str, rule("HOST:PORT", lambda v: ":" in v)]


def _regex(value: str) -> str:
    if not value:  # the empty pattern matches everywhere
        raise refuse("a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise refuse("a valid regular expression", detail=str(exc)) from None
    return value


Regex = Annotated[str, After(_regex)]


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise refuse(f"a log level ({', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]})")
    return level


LogLevel = Annotated[str, After(_log_level)]
LOG_FORMATS = ("text", "json")
LogFormat = Annotated[str, rule('"text" or "json"', lambda v: v in LOG_FORMATS)]


def _path_text(value: Any) -> Any:
    if isinstance(value, Path):  # re-validation of settings already loaded
        return value
    if not isinstance(value, str) or not value:
        raise refuse("a path (a non-empty string)")
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~name/..." for a name this machine does not know
        raise refuse("a path whose ~user is a known account") from None


def _resolve(value: Path, context: Mapping[str, Any]) -> Path:
    base = context.get("base_dir")
    return value if value.is_absolute() or base is None else Path(base) / value


# A path; relative ones resolve against the folder of the file that names them.
SettingsPath = Annotated[Path, Before(_path_text), After(_resolve, context=True)]
# A path where the empty string (the documented default) means "none".
OptionalPath = Annotated[SettingsPath | None, Before(lambda v: None if v == "" else v)]


@dataclasses.dataclass(frozen=True)
class Accepts:
    """Annotated marker: keys a before-validator turns into fields (so "did you mean" knows them)."""

    keys: tuple[str, ...]


def one_or_more(value: Any) -> Any:
    """A single string where a list is expected counts as a list of one."""
    return [value] if isinstance(value, str) else value


# -- validation -------------------------------------------------------------------------


class Invalid(Exception):
    """Problems found checking a value: each a mapping of ``type``, ``loc`` (the key path as a
    tuple), ``input`` and, for rules, ``ctx``."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def _entry(kind: str, loc: tuple[Any, ...], value: Any, **ctx: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "input": value, "ctx": ctx}


def _problem(kind: str, loc: tuple[Any, ...], value: Any, **ctx: Any) -> Invalid:
    return Invalid([_entry(kind, loc, value, **ctx)])


def _hook(fn: Callable[..., Any], value: Any, given: Any, loc: tuple[Any, ...], *context: Any) -> Any:
    try:
        return fn(value, *context)
    except Refused as exc:
        raise _problem(_RULE, loc, given, **exc.ctx) from None
    except (ValueError, TypeError) as exc:
        raise _problem("value_error", loc, given, expected=str(exc)) from None


_SEQUENCES: Mapping[Any, tuple[type, str]] = {
    tuple: (tuple, "tuple_type"),
    list: (list, "list_type"),
    frozenset: (frozenset, "set_type"),
    set: (set, "set_type"),
    collections.abc.Sequence: (tuple, "list_type"),
}


def check_value(tp: Any, value: Any, loc: tuple[Any, ...] = (), context: Mapping[str, Any] | None = None) -> Any:
    """``value`` checked against the settings type ``tp`` (and converted: lists to tuples, strings to
    paths, tables to sections); problems raise ``Invalid``, every one found, located by key path."""
    return _check(tp, value, loc, context or {})


def _check(tp: Any, value: Any, loc: tuple[Any, ...], context: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        given = value  # problems name the value as written, not as converted (30, not 30.0)
        for marker in reversed(meta):
            if isinstance(marker, Before):
                value = _hook(marker.fn, value, given, loc)
        value = _check(base, value, loc, context)
        for marker in meta:
            if marker is FINITE and isinstance(value, float) and not math.isfinite(value):
                raise _problem("finite_number", loc, given)
            if isinstance(marker, After):
                value = _hook(marker.fn, value, given, loc, *((context,) if marker.context else ()))
            elif not isinstance(marker, Before | Alias | Accepts | _Finite):
                raise TypeError(f"unknown settings annotation {marker!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        problems: list[dict[str, Any]] = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _check(option, value, loc, context)
            except Invalid as exc:
                problems.extend(exc.problems)
        raise Invalid(problems)
    if origin in _SEQUENCES:
        return _check_sequence(tp, origin, value, loc, context)
    if origin in (dict, collections.abc.Mapping):
        return _check_table(tp, value, loc, context)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _problem("bool_type", loc, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _problem("int_type", loc, value)
    if tp is float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise _problem("finite_number", loc, value) from None
        raise _problem("float_type", loc, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except (ValueError, TypeError):
            names = [repr(m.value) for m in tp]
            choices = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            raise _problem("enum", loc, value, expected=choices) from None
    if tp is str:
        if isinstance(value, str):
            return value
        raise _problem("string_type", loc, value)
    if tp is Path:
        if isinstance(value, Path):
            return value
        if isinstance(value, str):
            return Path(value)
        raise _problem("path_type", loc, value)
    if tp is type(None):
        if value is None:
            return None
        raise _problem("none_required", loc, value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _check_section(tp, value, loc, context)
    raise TypeError(f"settings cannot check values of type {tp!r}")


def _check_sequence(tp: Any, origin: Any, value: Any, loc: tuple[Any, ...], context: Mapping[str, Any]) -> Any:
    make, kind = _SEQUENCES[origin]
    if not isinstance(value, list | tuple | set | frozenset):
        raise _problem(kind, loc, value)
    args = typing.get_args(tp)
    if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        raise TypeError(f"settings cannot check fixed-length tuples ({tp!r})")
    item = args[0] if args else Any
    out: list[Any] = []
    problems: list[dict[str, Any]] = []
    for i, element in enumerate(value):
        try:
            out.append(_check(item, element, (*loc, i), context))
        except Invalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise Invalid(problems)
    return make(out)


def _check_table(tp: Any, value: Any, loc: tuple[Any, ...], context: Mapping[str, Any]) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise _problem("dict_type", loc, value)
    key_type, value_type = typing.get_args(tp) or (Any, Any)
    out: dict[Any, Any] = {}
    problems: list[dict[str, Any]] = []
    for key, element in value.items():
        try:
            checked = _check(key_type, key, (*loc, key, "[key]"), context)
            out[checked] = _check(value_type, element, (*loc, key), context)
        except Invalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise Invalid(problems)
    return out


def _check_section(tp: type, value: Any, loc: tuple[Any, ...], context: Mapping[str, Any]) -> Any:
    if isinstance(value, tp):
        return value
    if not isinstance(value, Mapping):
        raise _problem("dataclass_type", loc, value)
    fields = settings_fields(tp)
    kwargs: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for key, (field_type, f) in fields.items():
        if key in value:
            try:
                kwargs[f.name] = _check(field_type, value[key], (*loc, key), context)
            except Invalid as exc:
                problems.extend(exc.problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append(_entry("missing", (*loc, key), value))
    if getattr(tp, _FORBID, False):
        problems.extend(_entry("extra_forbidden", (*loc, key), value[key]) for key in value if key not in fields)
    if problems:
        raise Invalid(problems)
    return tp(**kwargs)


def validate(
    tp: type[T],
    raw: Any,
    *,
    where: str,
    error: type[ValueError],
    context: Mapping[str, Any] | None = None,
) -> T:
    """``raw`` checked against the settings dataclass ``tp``; any problem raises ``error`` with one line.

    ``where`` names the source (a file, "environment", "central policy"; empty: the caller adds it);
    ``context`` may carry ``base_dir`` for relative paths.
    """
    try:
        result: T = check_value(tp, raw, (), context)
    except Invalid as exc:
        raise error(f"{where}: {explain(exc, tp)}" if where else explain(exc, tp)) from None
    return result


def as_input(value: Any) -> Any:
    """Settings objects back into validator input (dataclasses as mappings), to validate them again."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: as_input(getattr(value, f.name)) for key, (_, f) in settings_fields(type(value)).items()}
    return value


def explain(exc: Invalid, root: Any) -> str:
    """The first problem in ``exc`` as "key.path: expected X, got Y" (or an unknown key with a suggestion)."""
    errors = exc.problems
    # A misspelt key also makes the intended one "missing": the spelling is the news.
    err = next((e for e in errors if e["type"] in _UNKNOWN), errors[0])
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    if kind in _UNKNOWN:
        known = known_keys(root, loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {guess[0]}?" if guess else f"known keys: {', '.join(sorted(known))}"
        return f"{key_path(loc)}: unknown key ({hint})"
    if kind == "missing":
        return f"{key_path(loc)}: missing (this key is required)"
    if kind == _RULE:
        if ctx.get("key"):
            loc = (*loc, ctx["key"])
        found = ctx["found"] if "found" in ctx else err["input"]
        detail = f" ({ctx['detail']})" if ctx.get("detail") else ""
        return f"{key_path(loc)}: expected {ctx['expected']}, got {describe(found)}{detail}"
    if kind == "enum":
        choices = str(ctx.get("expected", "")).replace("'", "")
        return f"{key_path(loc)}: expected a known value, got {describe(err['input'])} (must be one of: {choices})"
    expected = _EXPECTED.get(kind) or ctx.get("expected", kind)
    return f"{key_path(loc)}: expected {expected}, got {describe(err['input'])}"


_UNKNOWN = ("extra_forbidden",)

_EXPECTED: Mapping[str, str] = {
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "a string",
    "bool_type": "true or false",
    "path_type": "a path (a non-empty string)",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "iterable_type": "a list",
    "dict_type": "a table",
    "mapping_type": "a table",
    "dataclass_type": "a table",
    "model_type": "a table",
    "none_required": "nothing",
}


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key_path(loc: Sequence[Any]) -> str:
    """A location as the TOML key path: ``retry.jitter``, ``case_files.roots[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (a key)"
        else:
            text = str(part) if _BARE_KEY.match(str(part)) else json.dumps(str(part))
            out += f".{text}" if out else text
    return out or "(top level)"


def describe(value: Any) -> str:
    """A found value in TOML's words: ``an array``, ``a table``, ``true``, ``-1``, ``"abc"``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        text = str(value)
        return json.dumps(text if len(text) <= 60 else text[:57] + "...")
    if isinstance(value, list | tuple):
        return "an array" if value else "an empty array"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    return f"a {type(value).__name__}"


def known_keys(root: Any, loc: Sequence[Any]) -> list[str]:
    """The keys the settings type ``root`` accepts at ``loc`` (for "did you mean")."""
    tp = root
    for part in loc:
        tp = unwrap(tp)
        if isinstance(part, str) and dataclasses.is_dataclass(tp):
            tp = field_types(tp).get(part)
        elif typing.get_origin(tp) in (tuple, list) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            return []
    extra = [k for meta in _metadata(tp) if isinstance(meta, Accepts) for k in meta.keys]
    tp = unwrap(tp)
    return sorted([*field_types(tp), *extra]) if dataclasses.is_dataclass(tp) else []


def _metadata(tp: Any) -> tuple[Any, ...]:
    return typing.get_args(tp)[1:] if typing.get_origin(tp) is Annotated else ()


@functools.cache
def settings_fields(cls: Any) -> dict[str, tuple[Any, dataclasses.Field[Any]]]:
    """A dataclass's fields by the key that names them in a file (its alias, if any), with their types."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {(_alias(hints[f.name]) or f.name): (hints[f.name], f) for f in dataclasses.fields(cls) if f.init}


def field_types(cls: Any) -> dict[str, Any]:
    """A dataclass's field types by the key that names them in a file."""
    return {key: tp for key, (tp, _) in settings_fields(cls).items()}


def _alias(tp: Any) -> str | None:
    if typing.get_origin(tp) is Annotated:
        for meta in typing.get_args(tp)[1:]:
            if isinstance(meta, Alias):
                return meta.name
    return None


def unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional down to the type that holds the keys."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            rest = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp
