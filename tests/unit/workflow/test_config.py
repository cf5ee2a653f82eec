"""The collector's TOML configuration: the example parses, typos are refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from collector.config import CollectorConfig, ConfigError, load_config, parse_config
from collector.domain.ico_form import DataSubjectCategory

EXAMPLE = Path(__file__).parents[3] / "deploy" / "collector.example.toml"


def test_the_documented_example_gives_the_defaults() -> None:
    config = load_config(EXAMPLE)
    defaults = CollectorConfig()
    assert config.email is None and config.webhook is None
    assert config.workflow.risk == defaults.workflow.risk
    assert config.workflow.grouping == defaults.workflow.grouping
    assert config.workflow.device_signals == defaults.workflow.device_signals
    assert config.workflow.clock == defaults.workflow.clock
    assert config.workflow.pre_assessment == defaults.workflow.pre_assessment
    assert config.workflow.tick_interval == defaults.workflow.tick_interval


def test_a_full_configuration(tmp_path: Path) -> None:
    raw = {
        "organisation": {
            "name": "Example Council",
            "ico_registration_number": "Z1234567",
            "subject_categories": ["children", "vulnerable_adults"],
        },
        "notify": {
            "email": {"host": "127.0.0.1", "port": 2525, "to": "ig@example.org", "credentials_file": "creds"},
            "webhook": {"url": "https://hooks.example.org/x"},
        },
        "workflow": {"silent_device_days": 7, "warning_hours": [4, 24], "risk": {"ico_min_likelihood": 4}},
    }
    config = parse_config(raw, base_dir=tmp_path)
    assert config.org.organisation_name == "Example Council"
    assert config.org.data_subject_categories == (DataSubjectCategory.CHILDREN, DataSubjectCategory.VULNERABLE_ADULTS)
    assert config.email is not None and config.email.to == ("ig@example.org",)
    assert config.email.credentials_file == tmp_path / "creds"
    assert config.webhook is not None and config.workflow.risk.ico_min_likelihood == 4
    assert config.workflow.device_signals.max_silence == timedelta(days=7)
    assert config.workflow.clock.warning_thresholds == (timedelta(hours=24), timedelta(hours=4))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"workflow": {"silent_days": 3}}, "unknown key"),
        ({"notify": {"email": {"host": "x"}}}, "at least one address"),
        ({"notify": {"webhook": {"url": "ftp://x"}}}, "https://"),
        ({"workflow": {"risk": {"vulnerable_floor": 9}}}, "1 to 5"),
        ({"organisation": {"subject_categories": ["martians"]}}, "must be one of"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, base_dir=tmp_path)
