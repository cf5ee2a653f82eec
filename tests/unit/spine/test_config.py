"""Agent configuration: defaults, validation, loud failure on typos."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, load_config

BASE = """
state_dir = "state"
[collector]
address = "collector.example:7443"
ca = "ca.pem"
cert = "device.pem"
key = "device.key"
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.toml"
    p.write_text(text)
    return p


def test_minimal_config_gets_documented_defaults_and_resolved_paths(tmp_path: Path) -> None:
    c = load_config(_write(tmp_path, BASE))
    assert c.state_dir == tmp_path / "state"
    assert c.collector.addresses == ("collector.example:7443",)
    assert c.collector.cert == tmp_path / "device.pem"
    assert c.outbox.batch_size == 500 and c.privacy.reveal_names is False


def test_the_example_config_in_deploy_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "deploy" / "agent.example.toml"
    c = load_config(example)
    assert c.collector.addresses


@pytest.mark.parametrize(
    "extra, message",
    [
        ("[privacy]\nreveal_name = true\n", "reveal_name"),
        ("[outbox]\nmax_events = -1\n", "outbox.max_events"),
        ("[privacy]\nreveal_names = 'yes'\n", "reveal_names"),
        ("[logging]\nlevel = 'LOUD'\n", "logging.level"),
    ],
)
def test_bad_values_fail_loudly(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, BASE + extra))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.toml")
