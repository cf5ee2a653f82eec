"""Any TOML value at any settings key: either accepted, or refused with one line naming that key."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import AgentFile, ConfigError, parse_config
from caseguard.settings import settings_fields, unwrap
from collector.config import CollectorFile
from collector.config import ConfigError as CollectorConfigError
from collector.config import parse_config as parse_collector_config

BASE = {"state_dir": "s", "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"}}

extremes = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 2**63 - 1, -(2**63), 0, -0.0,
                           2**31, 1e-308])
scalars = st.one_of(
    extremes, st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False),
    st.text(max_size=8), st.datetimes(min_value=datetime(1, 1, 1)),
)
toml_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(min_size=1, max_size=5), inner, max_size=3), max_leaves=6)


def _paths(cls: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, (tp, _) in settings_fields(cls).items():
        if dataclasses.is_dataclass(unwrap(tp)):
            out.append((*prefix, key))
            out.extend(_paths(unwrap(tp), (*prefix, key)))
        else:
            out.append((*prefix, key))
    return out


AGENT_PATHS = _paths(AgentFile)
COLLECTOR_PATHS = _paths(CollectorFile)


def _with(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    table = out
    for part in path[:-1]:
        nxt = table.get(part)
        table[part] = dict(nxt) if isinstance(nxt, dict) else {}
        table = table[part]
    table[path[-1]] = value
    return out


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(AGENT_PATHS), toml_values)
def test_the_agent_never_fails_except_with_one_line_about_the_key(path: tuple[str, ...], value: Any) -> None:
    try:
        parse_config(_with(BASE, path, value), base_dir=Path("/"), source=Path("agent.toml"))
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(f"agent.toml: {path[0]}"), message


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(COLLECTOR_PATHS), toml_values)
def test_the_collector_never_fails_except_with_one_line_about_the_key(path: tuple[str, ...], value: Any) -> None:
    try:
        parse_collector_config(_with({}, path, value), base_dir=Path("/"), source=Path("collector.toml"))
    except CollectorConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(f"collector.toml: {path[0]}"), message
