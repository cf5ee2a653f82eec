"""The README's commands work as written: its shell blocks and command tables, run on loopback as a new user would.

The commands are read from README.md at test time; only these substitutions are made, so a
command that stops working (or a README that drifts from the programs) fails here:

- ``caseguard-collector`` / ``caseguard-agent``: the installed scripts beside this Python;
- ``/var/lib/caseguard-collector`` and ``DIR``: one collector data folder (a fresh one for ``pki init``
  in the command table, which refuses to replace a CA);
- ``/etc/caseguard/``, ``/var/lib/caseguard-agent``, ``/run/caseguard-agent``: folders of this test;
  ``/etc/caseguard/agent.toml`` and ``collector.toml`` are deploy/*.example.toml with these
  substitutions (and the agent's ``[egress]`` off, so it does not watch this machine's USB sticks);
  ``policy.toml`` is deploy/policy.example.toml; ``cms-export.csv`` a synthetic case-management
  export and ``/etc/caseguard/org.key`` an organisation key;
- ports 7443, 7444, 8443 and ``HOST:PORT``: free loopback ports; ``0.0.0.0`` -> ``127.0.0.1``;
  ``collector.example.org`` -> ``localhost`` (the server certificate always covers it);
- ``cgt_...`` and ``SHA256:...``: the token and fingerprint ``enroll-token create`` printed;
  ``LAPTOP-0042-7f3a9c`` and ``DEVICE``: the name the laptop got at enrolment;
- in the tables: ``[optional parts]`` are left out; ``NAME`` -> a spare device (or account) name,
  ``OUT``/``PATH`` -> files of this test, ``N`` -> 3, ``ROLE`` -> staff, ``USER`` -> j.smith,
  ``agent.toml`` -> the laptop's configuration;
- commands that ask for a password get ``--password-stdin`` and the password on stdin;
- ``serve``, ``run`` and ``session`` run until stopped: each must still be running (and ``serve``
  listening) after start-up, and must exit 0 on SIGTERM.

Every other command must exit 0.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.harness import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "Correct-Horse-Battery-9"
LONG_RUNNING = {("caseguard-collector", "serve"), ("caseguard-agent", "run"), ("caseguard-agent", "session")}


def section(readme: str, title: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level (fences skipped)."""
    lines, out, level, fenced = readme.splitlines(), [], 0, False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = re.match(r"(#+) (.*)", line) if not fenced else None
        if heading and level and len(heading.group(1)) <= level:
            break
        if level:
            out.append(line)
        elif heading and heading.group(2) == title:
            level = len(heading.group(1))
    assert level, f"README has no section {title!r}"
    return "\n".join(out) + "\n"


def shell_commands(text: str) -> list[str]:
    """The commands of every ```sh block: continuation lines joined, comments dropped."""
    out: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                out.append(command)
    return out


def table_commands(text: str) -> list[str]:
    """The first command in each row of the tables whose first column is a command."""
    out = []
    for row in re.findall(r"^\| `(caseguard-[^`]+)`", text, re.M):
        out.append(row.split(" / ")[0].replace("\\|", "|"))
    return out


@dataclass
class NewUser:
    """A new user's machine: folders, ports, and what the commands printed that later ones need."""

    root: Path
    run_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    token: str = ""
    pin: str = ""
    laptop: str = ""
    running: list[tuple[str, subprocess.Popen[str]]] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "var-lib-collector"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    def port(self, name: str) -> int:
        return self.ports.setdefault(name, free_port())

    def localise(self, text: str) -> str:
        """The README's machine-specific parts made this machine's (see the module docstring)."""
        swaps = {
            "/var/lib/caseguard-collector": str(self.data_dir),
            "/var/lib/caseguard-agent": str(self.root / "agent-state"),
            "/run/caseguard-agent": str(self.run_dir),
            "/etc/caseguard/": f"{self.etc}/",
            "collector.example.org": "localhost",
            "0.0.0.0": "127.0.0.1",
        }
        for old, new in swaps.items():
            text = text.replace(old, new)
        for readme_port in ("7443", "7444", "8443"):
            text = re.sub(rf":{readme_port}\b", f":{self.port(readme_port)}", text)
        return text

    def argv(self, command: str, *, table: bool = False) -> list[str]:
        text = command
        if table:
            text = re.sub(r"\s*\[[^\]]*\]\.*", "", text)
            text = text.replace("PATH...", "PATH")
            is_pki_init = " pki init " in f" {text} "
            subs = {
                "DIR": str(self.root / "fresh-pki") if is_pki_init else str(self.data_dir),
                "HOST:PORT": f"127.0.0.1:{self.port('table')}",
                "OUT": str(self.root / "spare-bundle"),
                "PATH": str(self.root / "letter.txt"),
                "NAME": "k.jones" if " users " in text else "laptop-spare",
                "ROLE": "staff",
                "USER": "j.smith",
                "DEVICE": self.laptop,
                "N": "3",
                "agent.toml": str(self.etc / "agent.toml"),
            }
            text = re.sub(r"\b(" + "|".join(map(re.escape, subs)) + r")(?=\s|$)", lambda m: subs[m.group(1)], text)
        else:
            text = text.replace("DIR", str(self.data_dir)).replace("LAPTOP-0042-7f3a9c", self.laptop)
        text = text.replace("cgt_...", self.token).replace("SHA256:...", self.pin)
        args = shlex.split(self.localise(text))
        assert args[0] in ("caseguard-collector", "caseguard-agent"), command
        return [str(BIN / args[0]), *args[1:]]

    def run(self, command: str, *, table: bool = False) -> subprocess.CompletedProcess[str]:
        """Run one README command as written (after substitution); it must work."""
        argv = self.argv(command, table=table)
        program, sub = Path(argv[0]).name, argv[1]
        if (program, sub) in LONG_RUNNING:
            self.start(command, argv)
            return subprocess.CompletedProcess(argv, 0, "", "")
        stdin = None
        if sub == "users" and argv[2] in ("add", "set-password"):
            argv.append("--password-stdin")
            stdin = PASSWORD + "\n"
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, cwd=self.root, input=stdin,
            stdin=None if stdin else subprocess.DEVNULL, env=_env(self.root),
        )  # fmt: skip
        assert proc.returncode == 0, f"README command failed: {command}\n{argv}\n{proc.stdout}\n{proc.stderr}"
        if (program, sub, argv[2]) == ("caseguard-collector", "enroll-token", "create"):
            self.token = proc.stdout.strip()
            self.pin = re.search(r"--ca-fingerprint (SHA256:[0-9a-f]+)", proc.stderr).group(1)  # type: ignore[union-attr]
        if (program, sub) == ("caseguard-agent", "enroll"):
            self.laptop = re.search(r"enrolled as (\S+);", proc.stdout).group(1)  # type: ignore[union-attr]
        return proc

    def start(self, command: str, argv: list[str]) -> None:
        log = open(self.root / f"{len(self.running)}-{argv[1]}.log", "w")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=self.root, env=_env(self.root)
        )
        log.close()
        self.running.append((command, proc))
        if argv[1] == "serve":
            port = int(argv[argv.index("--listen") + 1].rsplit(":", 1)[1])
            wait_for(lambda: _accepts(port, proc, command), 30, f"{command} listening")
        else:
            time.sleep(3)
        assert proc.poll() is None, f"README command exited early: {command}\n{self.log_of(proc)}"

    def log_of(self, proc: subprocess.Popen[str]) -> str:
        index = [p for _, p in self.running].index(proc)
        return next(self.root.glob(f"{index}-*.log")).read_text()

    def stop_all(self) -> None:
        """SIGTERM what is running, newest first; each must exit 0."""
        failures = []
        while self.running:
            command, proc = self.running.pop()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(10)
            if code != 0:
                failures.append(f"{command}: exit {code}")
        assert failures == []


def _env(root: Path) -> dict[str, str]:
    import os

    # A command that forgets --data-dir must fail here, not quietly use some other folder.
    blocker = root / "not-a-folder"
    blocker.touch()
    return {**os.environ, "CASEGUARD_DATA_DIR": str(blocker / "data"), "PYTHONUNBUFFERED": "1"}


def _accepts(port: int, proc: subprocess.Popen[str], command: str) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"README command exited: {command}")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def user(tmp_path: Path) -> Iterator[NewUser]:
    run_dir = Path(tempfile.mkdtemp(prefix="cg-readme-"))  # unix socket paths must stay short
    u = NewUser(tmp_path, run_dir)
    u.etc.mkdir()
    agent_toml = u.localise((ROOT / "deploy/agent.example.toml").read_text(encoding="utf-8"))
    agent_toml = re.sub(r"(\[egress\][^\[]*?)enabled = true", r"\1enabled = false", agent_toml, count=1)
    (u.etc / "agent.toml").write_text(agent_toml)
    (u.etc / "collector.toml").write_text(u.localise((ROOT / "deploy/collector.example.toml").read_text()))
    shutil.copy(ROOT / "deploy/policy.example.toml", tmp_path / "policy.toml")
    (tmp_path / "letter.txt").write_text("Dear parent, about the review meeting on Tuesday.\n")
    # The case-management export the README publishes (synthetic: 999-range NHS numbers), and the org key.
    (tmp_path / "cms-export.csv").write_text("nhs_number,case_reference\n999 012 2407,CS-104233\n,CS-104234\n")
    (u.etc / "org.key").write_bytes(b"0123456789abcdef0123456789abcdef")
    try:
        yield u
    finally:
        try:
            u.stop_all()
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


def _events_from(user: NewUser, device: str) -> int:
    out = subprocess.run(
        [str(BIN / "caseguard-collector"), "events", "list", "--json", "--device", device,
         "--data-dir", str(user.data_dir)],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return len([line for line in out.splitlines() if line.strip()])


def _console_page(user: NewUser) -> int:
    context = ssl.create_default_context(cafile=str(user.data_dir / "pki/ca.pem"))
    url = f"https://127.0.0.1:{user.port('8443')}/"
    with urllib.request.urlopen(url, context=context, timeout=10) as reply:
        return int(reply.status)


def test_the_readme_works_as_written(user: NewUser) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    # "Setting it up for real": a collector, a token, an enrolled laptop delivering events, a policy.
    real = shell_commands(section(readme, "Setting it up for real"))
    assert any(" enroll " in c for c in real) and any("policy set" in c for c in real)
    for command in real:
        user.run(command)
    assert user.laptop, "the README enrols a laptop"
    wait_for(lambda: _events_from(user, user.laptop) > 0, 60, "events from the laptop enrolled as the README says")
    version = json.loads(user.run("caseguard-collector policy show --data-dir DIR --json").stdout)["version"]
    assert version == sum(" policy set " in f" {c} " for c in real)  # each publication is the next version
    user.stop_all()

    # "The web console": accounts, the laptop's owner, and the console itself.
    console = shell_commands(section(readme, "The web console"))
    assert any("assign-owner" in c for c in console)
    for command in console:
        user.run(command)
    wait_for(lambda: _accepts(user.port("8443"), user.running[-1][1], "the console"), 30, "the console")
    assert _console_page(user) == 200
    owners = user.run("caseguard-collector devices owners --data-dir DIR --json").stdout
    assert json.loads(owners.splitlines()[0]) == {"device": user.laptop, "owners": ["j.smith"]}

    # The command tables, with the console's collector still serving the laptop.
    user.run("caseguard-agent run --config agent.toml", table=True)
    tables = [
        *table_commands(section(readme, "Collector commands")),
        *table_commands(section(readme, "Agent commands")),
        *table_commands(section(readme, "The web console")),
    ]
    assert len(tables) >= 15
    for command in tables:
        if "caseguard-agent run" in command:
            continue  # already running, as the table says
        user.run(command, table=True)
    user.stop_all()
