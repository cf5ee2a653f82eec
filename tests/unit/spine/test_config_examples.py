"""The example files in deploy/ against the typed settings: every key documented, every documented key real,
and every default the example states equal to the real default."""

from __future__ import annotations

import dataclasses
import enum
import re
import tomllib
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentFile, CaseFilesSettings, EgressSettings, LockSettings, PrivacySettings
from caseguard.central_policy import PolicyDocument
from caseguard.settings import Accepts, settings_fields, unwrap
from collector.config import CollectorFile

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
# Keys with no default (the example shows a typical value) and tables of free-form entries.
REQUIRED_OR_FREE = {"state_dir", "collector.address", "collector.ca", "collector.cert", "collector.key",
                    "case_files.label_map"}


def _is_section(tp: Any) -> bool:
    return dataclasses.is_dataclass(unwrap(tp))


def _keys(cls: Any, prefix: str = "") -> Iterator[tuple[str, Any, dataclasses.Field[Any] | None]]:
    """Every leaf key of a settings structure: (dotted path, type, field); aliases as written in files."""
    for key, (tp, f) in settings_fields(cls).items():
        path = f"{prefix}{key}"
        if _is_section(tp):
            extra = [m for m in typing.get_args(tp)[1:] if isinstance(m, Accepts)]
            for m in extra:
                for k in m.keys:
                    yield f"{path}.{k}", None, None
            yield from _keys(unwrap(tp), path + ".")
        else:
            yield path, tp, f


def _sections(text: str) -> dict[str, str]:
    """The example's text by table header ("" for the top), comments included."""
    out: dict[str, str] = {"": ""}
    current = ""
    for line in text.splitlines():
        header = re.match(r"^\[([\w.]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1)
            out.setdefault(current, "")
        else:
            out[current] += line + "\n"
    return out


def _documented(text: str) -> set[str]:
    """Keys the example sets or shows in a comment (``# key = ...`` or ``key = [...]`` in prose)."""
    found: set[str] = set()
    for section, body in _sections(text).items():
        found.add(section)  # a table of free-form entries is documented by its header
        for name in re.findall(r"(?:^|[#`\s])([a-z_]+)\s*=", body, flags=re.MULTILINE):
            found.add(f"{section}.{name}" if section else name)
    return found


def _leaves(raw: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in raw.items():
        if isinstance(value, Mapping) and value and f"{prefix}{key}" not in REQUIRED_OR_FREE:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _norm(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, tuple | list):
        return [_norm(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


@pytest.mark.parametrize(
    ("example", "schema"),
    [("agent.example.toml", AgentFile), ("collector.example.toml", CollectorFile),
     ("policy.example.toml", PolicyDocument)],
)
def test_every_key_is_documented_and_every_documented_key_is_real(example: str, schema: Any) -> None:
    text = (DEPLOY / example).read_text()
    real = {path for path, _, _ in _keys(schema)}
    written = {path for path, _ in _leaves(tomllib.loads(text))}
    assert written - real == set(), "keys in the example the settings do not have"
    assert real - _documented(text) == set(), "settings the example does not document"


@pytest.mark.parametrize(("example", "schema"), [("agent.example.toml", AgentFile),
                                                 ("collector.example.toml", CollectorFile)])
def test_the_defaults_the_examples_state_are_the_real_defaults(example: str, schema: Any) -> None:
    written = dict(_leaves(tomllib.loads((DEPLOY / example).read_text())))
    fields = {path: f for path, _, f in _keys(schema) if f is not None}
    compared = 0
    for path, value in written.items():
        if path in REQUIRED_OR_FREE:
            continue
        default = _default(fields[path])
        assert default is not dataclasses.MISSING, f"{path} has no default: list it in REQUIRED_OR_FREE"
        assert _norm(value) == _norm(default), f"{example}: {path} = {value!r}, but the default is {default!r}"
        compared += 1
    assert compared > 30


def test_the_central_policy_keys_have_the_agents_names_and_rules() -> None:
    agent = {"lock": LockSettings, "case_files": CaseFilesSettings, "egress": EgressSettings,
             "privacy": PrivacySettings}
    for section, (tp, _) in settings_fields(PolicyDocument).items():
        mine = settings_fields(agent[section])
        for key, (policy_type, _) in settings_fields(unwrap(tp)).items():
            optional = typing.get_args(policy_type)
            assert type(None) in optional, f"{section}.{key} must be optional in the policy"
            (declared,) = (a for a in optional if a is not type(None))
            assert declared == mine[key][0], f"{section}.{key}: the policy's rule differs from the agent's"
