"""Typed settings shared by the agent and the collector: value rules, validation and one-line errors.

Each settings section is a frozen dataclass whose fields carry one of the value types below
(``Positive``, ``Fraction``, ``SettingsPath`` ...), so a rule is written once and means the same
in agent.toml, collector.toml, the central policy and the environment. ``validate`` checks raw
TOML (or environment) values against such a dataclass with pydantic and turns the first problem
into one line naming the file, the key path, what was expected and what was found::

    agent.toml: retry.jitter: expected a number, got an array

Pure: nothing here reads files or the environment.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BeforeValidator,
    ConfigDict,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
)
from pydantic import with_config as _with_config
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

T = TypeVar("T")
C = TypeVar("C", bound=type)

_RULE = "setting"  # the pydantic error type of every rule declared here

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def settings(cls: C) -> C:
    """Mark a dataclass as a settings section: unknown keys are refused (a typo must not pass silently)."""
    return _with_config(ConfigDict(extra="forbid"))(cls)


def refuse(expected: str, found: Any = dataclasses.MISSING, key: str = "", detail: str = "") -> PydanticCustomError:
    """The error a rule raises: ``expected`` is a phrase such as "a number above 0".

    ``key`` names a field below the one being validated (for checks across fields), ``found``
    the offending value when it is not the validated input itself, ``detail`` extra words.
    """
    ctx: dict[str, Any] = {"expected": expected, "key": key, "detail": detail}
    if found is not dataclasses.MISSING:
        ctx["found"] = found
    return PydanticCustomError(_RULE, "expected {expected}", ctx)


def rule(expected: str, ok: Callable[[Any], bool]) -> AfterValidator:
    """A check for ``Annotated[...]``: values for which ``ok`` is false are refused as not ``expected``."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise refuse(expected)
        return value

    return AfterValidator(check)


# -- value types ------------------------------------------------------------------------
# Strict scalars: TOML's true is not 1.0 and "30" is not 30. Integers are accepted as numbers;
# inf and nan are not (a timer of inf seconds cannot be set).

Flag = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
NonEmptyText = Annotated[str, Strict(), rule("a non-empty string", bool)]
# Words shown to staff in a desktop notification (Windows takes at most 32,767 characters on a
# command line, and the toast's text travels base64-encoded in it).
NoticeText = Annotated[str, Strict(), rule("a non-empty string of at most 500 characters", lambda v: 0 < len(v) <= 500)]
Number = Annotated[float, Strict(), AllowInfNan(False)]
Positive = Annotated[float, Strict(), AllowInfNan(False), rule("a number above 0", lambda v: v > 0)]
NonNegative = Annotated[float, Strict(), AllowInfNan(False), rule("a number of at least 0", lambda v: v >= 0)]
Fraction = Annotated[float, Strict(), rule("a number from 0 to 1", lambda v: 0 <= v <= 1)]
# A score a value must reach ("at or above this"): 0 would let everything through.
Threshold = Annotated[float, Strict(), rule("a number above 0 and at most 1", lambda v: 0 < v <= 1)]
Count = Annotated[int, Strict(), rule("a whole number above 0", lambda v: v > 0)]
Score = Annotated[int, Strict(), rule("a whole number from 1 to 5", lambda v: 1 <= v <= 5)]
Port = Annotated[int, Strict(), rule("a port number (1 to 65535)", lambda v: 0 < v < 65536)]
_HASH32 = re.compile(r"[0-9a-f]{32}")
# A keyed identifier hash (caseguard.identifiers), as `caseguard-collector policy set --identifiers` writes it.
IdentifierHash = Annotated[str, Strict(), rule("32 lower-case hexadecimal characters (a keyed identifier hash)",
                                               lambda v: _HASH32.fullmatch(v) is not None)]  # fmt: skip

# Durations are capped at ten years: beyond that, timers and timedelta overflow.
_YEARS_10_S = 10 * 365 * 24 * 3600


def _within(unit_s: int, zero: bool) -> Callable[[float], bool]:
    return lambda v: (v >= 0 if zero else v > 0) and v <= _YEARS_10_S / unit_s


Seconds = Annotated[float, Strict(), rule("a number of seconds above 0, at most ten years", _within(1, False))]
SecondsOrZero = Annotated[float, Strict(), rule("a number of seconds from 0 to ten years", _within(1, True))]
Minutes = Annotated[float, Strict(), rule("a number of minutes above 0, at most ten years", _within(60, False))]
HoursOrZero = Annotated[float, Strict(), rule("a number of hours from 0 to ten years", _within(3600, True))]
Days = Annotated[float, Strict(), rule("a number of days above 0, at most ten years", _within(86400, False))]
HostPort = Annotated[str, Strict(), rule("HOST:PORT", lambda v: ":" in v)]


def _regex(value: str) -> str:
    if not value:  # the empty pattern matches everywhere
        raise refuse("a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise refuse("a valid regular expression", detail=str(exc)) from None
    return value


Regex = Annotated[str, Strict(), AfterValidator(_regex)]


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise refuse(f"a log level ({', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]})")
    return level


LogLevel = Annotated[str, Strict(), AfterValidator(_log_level)]
LOG_FORMATS = ("text", "json")
LogFormat = Annotated[str, Strict(), rule('"text" or "json"', lambda v: v in LOG_FORMATS)]


def _path_text(value: Any) -> Any:
    if isinstance(value, Path):  # re-validation of settings already loaded
        return value
    if not isinstance(value, str) or not value:
        raise refuse("a path (a non-empty string)")
    return Path(value).expanduser()


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return value if value.is_absolute() or base is None else Path(base) / value


# A path; relative ones resolve against the folder of the file that names them.
SettingsPath = Annotated[Path, BeforeValidator(_path_text), AfterValidator(_resolve)]
# A path where the empty string (the documented default) means "none".
OptionalPath = Annotated[SettingsPath | None, BeforeValidator(lambda v: None if v == "" else v)]


@dataclasses.dataclass(frozen=True)
class Accepts:
    """Annotated marker: keys a before-validator turns into fields (so "did you mean" knows them)."""

    keys: tuple[str, ...]


def one_or_more(value: Any) -> Any:
    """A single string where a list is expected counts as a list of one."""
    return [value] if isinstance(value, str) else value


# -- validation -------------------------------------------------------------------------


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


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
        result: T = _adapter(typing.cast(Any, tp)).validate_python(raw, context=dict(context or {}))
    except ValidationError as exc:
        raise error(f"{where}: {explain(exc, tp)}" if where else explain(exc, tp)) from None
    return result


def as_input(value: Any) -> Any:
    """Settings objects back into validator input (dataclasses as mappings), to validate them again."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        hints = typing.get_type_hints(type(value), include_extras=True)
        return {
            (_alias(hints[f.name]) or f.name): as_input(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
    return value


def explain(exc: ValidationError, root: Any) -> str:
    """The first problem in ``exc`` as "key.path: expected X, got Y" (or an unknown key with a suggestion)."""
    errors = exc.errors(include_url=False)
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
    expected = _EXPECTED.get(kind, err["msg"])
    return f"{key_path(loc)}: expected {expected}, got {describe(err['input'])}"


_UNKNOWN = ("unexpected_keyword_argument", "extra_forbidden")

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
    """A pydantic location as the TOML key path: ``retry.jitter``, ``case_files.roots[2]``."""
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
            if isinstance(meta, FieldInfo) and meta.alias:
                return meta.alias
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
