"""Bad settings through the real CLIs: one line on stderr naming file, key, expected and found; exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

AGENT_BASE = 'state_dir = "state"\n[collector]\naddress = "127.0.0.1:1"\nca = "ca.pem"\ncert = "d.pem"\nkey = "d.key"\n'


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASEGUARD_")}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


def _one_line_refusal(proc: subprocess.CompletedProcess[str], program: str) -> str:
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: "), proc.stderr
    return lines[0][len(program) + 2:]


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ("[retry]\njitter = [1]\n", "retry.jitter: expected a number, got an array"),  # was a TypeError
        ('[lock]\nwarn_s = "abc"\n', 'lock.warn_s: expected a number, got "abc"'),  # was a ValueError
        ("[lock]\nwarn_s = true\n", "lock.warn_s: expected a number, got true"),  # was taken as 1.0
        ("[egress]\nsettle = 2\n", "egress.settle: unknown key (did you mean settle_s?)"),
        ('[case_files.label_map]\n"guid-1" = 3\n', "case_files.label_map.guid-1: expected a string, got 3"),
    ],
)
def test_the_agent_refuses_a_bad_setting_in_one_line(tmp_path: Path, extra: str, line: str) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(AGENT_BASE + extra)
    message = _one_line_refusal(_run("agent", "status", "--config", str(config)), "caseguard-agent")
    assert message == f"{config}: {line}"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"CASEGUARD_LOG_LEVEL": "verbose"},  # crashed logging.basicConfig
         'environment: CASEGUARD_LOG_LEVEL: expected a log level (DEBUG, INFO, WARNING or ERROR), got "verbose"'),
        ({"CASEGUARD_DATABASE_URL": "mysql://cg:s3cret@db/caseguard"},
         'environment: CASEGUARD_DATABASE_URL: expected a postgresql:// URL, got "mysql:..."'),
    ],
)
def test_the_collector_refuses_a_bad_environment_variable_in_one_line(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    proc = _run("collector", "migrate", "--data-dir", str(tmp_path), env=env)
    assert _one_line_refusal(proc, "caseguard-collector") == line
    assert not (tmp_path / "collector.sqlite3").exists() and list(tmp_path.iterdir()) == []


def test_the_collector_refuses_a_bad_config_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[workflow.risk]\nico_min_likelihood = 'high'\n")
    proc = _run("collector", "incidents", "list", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert _one_line_refusal(proc, "caseguard-collector") == (
        f'{config}: workflow.risk.ico_min_likelihood: expected a whole number, got "high"'
    )
    # the same file named by the environment
    proc = _run("collector", "incidents", "list", "--data-dir", str(tmp_path / "data"),
                env={"CASEGUARD_COLLECTOR_CONFIG": str(config)})
    assert _one_line_refusal(proc, "caseguard-collector").startswith(f"{config}: workflow.risk.ico_min_likelihood")


def test_publishing_a_bad_policy_is_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[lock]\nidle_timout_s = 60\n")
    proc = _run("collector", "policy", "set", str(policy), "--by", "it.admin", "--data-dir", str(tmp_path))
    assert _one_line_refusal(proc, "caseguard-collector") == (
        f"{policy}: lock.idle_timout_s: unknown key (did you mean idle_timeout_s?)"
    )
