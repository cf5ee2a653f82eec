"""Every command of both programs, given bad input, answers with one line and the right exit code.

Real processes (``python -m collector|agent``), real data folders, a real collector where a
case needs one. The command list is read from the programs' own parsers, so a command added
later is driven too. Exit codes: 0 done, 1 failed, 2 usage or configuration (README).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from agent.cli import _parser as agent_parser
from collector.cli.main import _parser as collector_parser
from tests.integration.harness import PYTHON, Agent, Collector, free_port, run_cli, wait_for

pytestmark = pytest.mark.integration

PLACEHOLDER = "no-such-thing"
# Commands that run until stopped: their bad-input cases are the configuration ones below.
LONG_RUNNING = {("serve",), ("run",), ("session",)}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], argparse.ArgumentParser]
]:
    """Every runnable command of a parser, with its own sub-parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from leaf_commands(sub, (*path, name))
            return
    yield path, parser


def required_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Placeholder values for every required positional and option (first choice where there are choices)."""
    out: list[str] = []
    for action in parser._actions:
        value = str(next(iter(action.choices))) if action.choices else PLACEHOLDER
        if not action.option_strings and action.nargs not in ("?", "*"):
            out.append(value)
        elif action.option_strings and action.required and action.dest not in ("config",):
            out += [action.option_strings[0]] if action.nargs == 0 else [action.option_strings[0], value]
    return out


def run(program: str, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", program, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
        input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip


def assert_one_line(proc: subprocess.CompletedProcess[str], program: str, codes: Sequence[int], says: str = "") -> None:
    """Exit code in ``codes``; no traceback; stderr one line from the program (when it failed)."""
    what = f"{proc.args}: exit {proc.returncode}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, what
    assert proc.returncode in codes, what
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"caseguard-{program}"), what
    assert says in proc.stderr, what


COLLECTOR_COMMANDS = sorted(p for p, _ in leaf_commands(collector_parser()))
AGENT_COMMANDS = sorted(p for p, _ in leaf_commands(agent_parser()))


def test_every_command_is_found() -> None:
    assert ("incidents", "show") in COLLECTOR_COMMANDS and ("enroll-token", "create") in COLLECTOR_COMMANDS
    assert ("report-lost",) in AGENT_COMMANDS and len(COLLECTOR_COMMANDS) > 30


@pytest.mark.parametrize("command", COLLECTOR_COMMANDS, ids=" ".join)
def test_collector_command_on_an_unusable_data_folder(command: tuple[str, ...], tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    parser = dict(leaf_commands(collector_parser()))[command]
    proc = run("collector", *command, *required_arguments(parser), "--data-dir", str(blocker / "data"), cwd=tmp_path)
    assert_one_line(proc, "collector", (1, 2))


@pytest.mark.parametrize("command", [c for c in COLLECTOR_COMMANDS if c not in LONG_RUNNING], ids=" ".join)
def test_collector_command_naming_things_that_do_not_exist(command: tuple[str, ...], tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("collector", "pki", "init", "--data-dir", str(data))
    parser = dict(leaf_commands(collector_parser()))[command]
    proc = run("collector", *command, *required_arguments(parser), "--data-dir", str(data), cwd=tmp_path)
    assert_one_line(proc, "collector", (0, 1, 2))


@pytest.mark.parametrize(
    ("expires", "says"),
    [("3weeks", "unknown unit 'weeks'"), ("24", "has no unit"), ("0h", "above zero"), ("soon", "not a duration")],
)
def test_bad_token_lifetimes(expires: str, says: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("collector", "pki", "init", "--data-dir", str(data))
    proc = run("collector", "enroll-token", "create", "--expires", expires, "--data-dir", str(data), cwd=tmp_path)
    assert_one_line(proc, "collector", (2,), says)
    assert proc.stdout == ""  # no token printed


def test_token_without_a_pki_is_refused_and_not_stored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run("collector", "enroll-token", "create", "--uses", "50", "--data-dir", str(data), cwd=tmp_path)
    assert_one_line(proc, "collector", (1,), "no PKI in")
    assert f"pki init --data-dir {data}" in proc.stderr and proc.stdout == ""
    listed = run("collector", "enroll-token", "list", "--json", "--data-dir", str(data), cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout == ""  # nothing live was left behind


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["serve", "--listen", "127.0.0.1:0"], 1, "no PKI in"),
        (["devices", "issue", "LAPTOP-0042", "--out", "out"], 1, "no PKI in"),
        (["policy", "set", "policy.toml", "--by", "it.admin"], 1, "no PKI in"),
    ],
)
def test_commands_that_need_a_pki_say_how_to_make_one(args: list[str], code: int, says: str, tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("[lock]\nidle_timeout_s = 300\n")
    proc = run("collector", *args, "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert_one_line(proc, "collector", (code,), says)


def test_unknown_devices(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    run_cli("collector", "pki", "init", *data)
    run(
        "collector", "users", "add", "j.smith", "--role", "staff", "--password-stdin", *data,
        cwd=tmp_path, stdin="Correct-Horse-Battery-9\n",
    )  # fmt: skip
    cases = [
        (["devices", "revoke", "LAPTOP-0042"], "no device named 'LAPTOP-0042'"),
        (["devices", "found", "LAPTOP-0042", "--by", "it.admin", "--reason", "handed in"], "LAPTOP-0042"),
        (["devices", "assign-owner", "LAPTOP-0042", "j.smith"], "no device named 'LAPTOP-0042'"),
    ]
    for args, says in cases:
        assert_one_line(run("collector", *args, *data, cwd=tmp_path), "collector", (1,), says)


def test_console_accounts_without_a_terminal(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    proc = run("collector", "users", "add", "ig.officer", "--role", "ig_officer", *data, cwd=tmp_path)
    assert_one_line(proc, "collector", (2,), "--password-stdin")


@pytest.fixture
def agent_config(tmp_path: Path) -> Path:
    """A valid agent.toml for a laptop that was never enrolled, pointing at a closed port."""
    path = tmp_path / "agent.toml"
    path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[collector]\naddress = "127.0.0.1:{free_port()}"\n'
        f'ca = "{tmp_path / "ca.pem"}"\ncert = "{tmp_path / "device.pem"}"\nkey = "{tmp_path / "device.key"}"\n'
        f'timeout_s = 2\n[session]\nsocket = "/tmp/cg-cli-errors-{free_port()}.sock"\n'
    )
    return path


@pytest.mark.parametrize("command", AGENT_COMMANDS, ids=" ".join)
def test_agent_command_with_a_missing_configuration(command: tuple[str, ...], tmp_path: Path) -> None:
    parser = dict(leaf_commands(agent_parser()))[command]
    proc = run("agent", *command, *required_arguments(parser), "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert_one_line(proc, "agent", (2,), "no such configuration file")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["run"], 2, "cannot read TLS material"),
        (["emit", "--count", "0"], 2, "--count must be at least 1"),
        (["emit", "--body", "{not json"], 2, "--body is not JSON"),
        (["status"], 1, "no outbox yet"),
        (["ping"], 2, "cannot read TLS material"),
        (["report-lost", "--device", "LAPTOP-0042", "--when", "last tuesday"], 2, "is not a date and time"),
        (["enroll", "--collector", "127.0.0.1:1", "--token", "letmein", "--ca-fingerprint", "SHA256:00"], 1,
         "not an enrolment token"),
        (["emit", "--kind", "no-such-kind"], 2, "invalid choice"),
    ],
)
def test_agent_bad_input(args: list[str], code: int, says: str, agent_config: Path, tmp_path: Path) -> None:
    assert_one_line(run("agent", *args, "--config", str(agent_config), cwd=tmp_path), "agent", (code,), says)


def _with_closed_stdout(*command: str, cwd: Path) -> tuple[int, str]:
    """Run with stdout a pipe whose reader is gone before the command writes (as `| head` that exited)."""
    proc = subprocess.Popen([PYTHON, "-m", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    return proc.wait(60), err


def test_a_closed_output_pipe_is_quiet(
    collector: Collector, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    collector.start()
    make_agent("laptop-lost")
    reporter = make_agent("laptop-desk")
    run_cli("agent", "report-lost", "--config", str(reporter.config), "--device", "laptop-lost",
            "--circumstances", "left on a train")  # fmt: skip
    data = ["--data-dir", str(collector.data_dir)]
    elsewhere = tmp_path / "elsewhere"  # not the folder holding collector/, which would shadow the package
    elsewhere.mkdir()

    def incident_ids() -> list[str]:
        out = run_cli("collector", "incidents", "list", "--json", *data).stdout
        return [json.loads(line)["incident_id"] for line in out.splitlines() if line.strip()]

    wait_for(lambda: bool(incident_ids()), 30, "the lost-device incident")
    for command in (
        ["collector", "incidents", "show", incident_ids()[0], *data],
        ["collector", "incidents", "list", *data],
        ["collector", "events", "list", "--json", *data],
        ["agent", "classify", str(Path(__file__)), "--config", str(reporter.config)],
    ):
        code, err = _with_closed_stdout(*command, cwd=elsewhere)
        assert code == 0 and "Traceback" not in err and "BrokenPipe" not in err and "Exception" not in err, (
            command, code, err,
        )  # fmt: skip


def test_the_exit_code_table_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for row in ("| 0 |", "| 1 |", "| 2 |"):
        assert row in readme

