"""Any TOML value at any settings key: either accepted, or refused with one line naming that key."""

from __future__ import annotations

import dataclasses
import math
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config import AgentFile, ConfigError, parse_config
from agent.transport.retry import Backoff
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


EXTREMES = [float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 2**63 - 1, -(2**63), 0, -0.0, 2**31, 1e-308,
            True, "", "x", [], {}]


@pytest.mark.parametrize("path", AGENT_PATHS, ids=".".join)
def test_every_agent_key_survives_extreme_values_and_builds_what_it_configures(path: tuple[str, ...]) -> None:
    for value in EXTREMES:
        try:
            config = parse_config(_with(BASE, path, value), base_dir=Path("/"), source=Path("agent.toml"))
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"agent.toml: {path[0]}"), str(exc)
            continue
        # what the runtime does with accepted values must not overflow either
        Backoff(config.retry.initial_backoff_s, config.retry.max_backoff_s, config.retry.multiplier,
                config.retry.jitter).delay(64)
        for seconds in (config.collector.policy_interval_s, config.heartbeat.interval_s, config.lock.retry_s,
                        config.lock.idle_timeout_s, config.egress.rediscover_s, config.posture.lock_interval_s,
                        config.case_files.reconcile_interval_s, config.collector.timeout_s):
            _timer_ok(seconds)
        timedelta(days=config.collector.renew_before_days)


def _timer_ok(seconds: float) -> None:
    """What threading.Event.wait(seconds) would refuse, without waiting."""
    assert math.isfinite(seconds) and 0 <= seconds < threading.TIMEOUT_MAX, seconds


@pytest.mark.parametrize("path", COLLECTOR_PATHS, ids=".".join)
def test_every_collector_key_survives_extreme_values(path: tuple[str, ...]) -> None:
    for value in EXTREMES:
        try:
            parse_collector_config(_with({}, path, value), base_dir=Path("/"), source=Path("collector.toml"))
        except CollectorConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"collector.toml: {path[0]}"), str(exc)
