"""`[logging] format = "json"`: the real collector writes one parseable JSON object per log line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.harness import Agent, Collector, wait_for

pytestmark = pytest.mark.integration


def test_serve_with_json_logging_writes_one_json_object_a_line(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text('[logging]\nformat = "json"\n[audit]\ncheckpoint_s = 0\n')
    collector.start("--config", str(config))
    agent = make_agent("laptop-1")
    agent.emit(2)
    agent.start()
    wait_for(lambda: collector.count("test", "laptop-1") == 2, 30, "the events")
    agent.stop()
    collector.stop()

    lines = [line for line in collector.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if not line.startswith("caseguard-collector: ")]  # prints: stdout
    assert len(records) >= 4, lines
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["time"].endswith("+00:00")
    messages = {(r["level"], r["logger"], r["message"]) for r in records}
    assert any(level == "INFO" and logger == "collector.runtime" and m.startswith("database check passed")
               for level, logger, m in messages)  # fmt: skip
    off = "automatic audit checkpoints are off ([audit] checkpoint_s = 0)"
    assert ("WARNING", "collector.runtime", off) in messages
    assert ("INFO", "collector.runtime", "collector stopped") in messages


def test_the_agent_with_json_logging_writes_json_and_withholds_names_as_text_does(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    personal = tmp_path / "Personal Sync"
    personal.mkdir()
    collector.start()
    agent = make_agent("laptop-j", settings=f'[logging]\nformat = "json"\nlevel = "DEBUG"\n'
                                            f'[egress]\npersonal_dirs = ["{personal}"]\nsettle_s = 0.5\n')  # fmt: skip
    agent.start()
    wait_for(lambda: "started as device" in agent.log(), 30, "the agent started")
    time.sleep(2)
    (personal / "Testcase-Amelia-strategy.txt").write_text(
        "Child protection strategy meeting for Amelia Testcase, NHS number 999 012 2407, date of birth "
        "01/02/2015. Safeguarding plan, care plan and the social worker's assessment follow.\n")  # fmt: skip
    wait_for(lambda: "case file arrived" in agent.log(), 30, "the egress log line")
    agent.stop()
    lines = [line for line in agent.log().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line: one JSON object, nothing else
    assert len(records) >= 5
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
    assert any(r["logger"] == "agent.egress_pipeline" and r["message"].startswith("case file arrived") for r in records)
    assert "Amelia" not in agent.log() and "999 012 2407" not in agent.log()  # DEBUG, JSON: still no names
