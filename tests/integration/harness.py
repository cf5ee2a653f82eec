"""Real processes on loopback: the collector and agents, with certificates from our own pki command."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from collector.store.events import SQLiteStore

PYTHON = sys.executable

# A synthetic case-file egress body (the shape the agent's egress pipeline emits; no names).
EGRESS: dict[str, object] = {
    "destination_class": "DESTINATION_CLASS_REMOVABLE_VOLUME",
    "destination_kind": "usb",
    "volume": {"filesystem": "vfat", "bus": "usb", "serial_hmac": "ab" * 16},
    "copy_burst_id": "burst-1",
    "file": {
        "extension": "docx",
        "sha256_hmac": "cd" * 16,
        "reasons": ["exact"],
        "confidence": 1.0,
        "identifier_counts": {"nhs_number": 3},
        "markings": ["OFFICIAL-SENSITIVE"],
    },
}


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts (the ``smtp`` fixture serves it)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def notices(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m["X-Caseguard-Notice"] == kind]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m agent|collector ...` and return its output."""
    proc = subprocess.run([PYTHON, "-m", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Collector:
    """A `caseguard-collector serve` process and its data dir (and its PostgreSQL, if ``database_url``)."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    database_url: str | None = None
    _log_start: int = 0

    @property
    def store_args(self) -> list[str]:
        """``--data-dir`` and, when set, ``--database-url``: where commands find the store."""
        url = ["--database-url", self.database_url] if self.database_url else []
        return ["--data-dir", str(self.data_dir), *url]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def init_pki(self) -> None:
        run_cli("collector", "pki", "init", "--data-dir", str(self.data_dir))

    def issue(self, name: str, out: Path) -> Path:
        run_cli("collector", "devices", "issue", name, *self.store_args, "--out", str(out))
        return out

    def start(self, *extra_args: str) -> None:
        """Start `serve`; ``extra_args`` are added to its command line (e.g. ``--console HOST:PORT``)."""
        self.log_path = self.data_dir / f"collector-{self.port}.log"
        log = open(self.log_path, "a")  # noqa: SIM115 - handed to the child
        self._log_start = log.tell()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "collector", "serve", *self.store_args, "--listen", self.address, *extra_args],
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        log.close()
        wait_for(self._listening, 20, f"collector on {self.address}")

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"collector exited with {self.proc.returncode}: {self.log()}")
        # `serve` prints "serving on" once every listener it was given (enrolment, console, ops) is up;
        # the main port alone answers before the enrolment port does.
        assert self.log_path is not None
        if b"serving on" not in self.log_path.read_bytes()[self._log_start :]:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.data_dir / "collector.sqlite3")

    def count(self, kind: str | None = None, device: str | None = None) -> int:
        import sqlite3

        path = self.data_dir / "collector.sqlite3"
        if not path.exists():
            return 0
        db = sqlite3.connect(path, timeout=30)
        try:
            sql, params = "SELECT COUNT(*) FROM events WHERE 1=1", []
            if kind:
                sql += " AND kind = ?"
                params.append(kind)
            if device:
                sql += " AND device = ?"
                params.append(device)
            return int(db.execute(sql, params).fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()


def private_media_root() -> Path:
    """A media root of a test's own under /media (created only when something is mounted there)."""
    return Path("/media") / f"caseguard-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class Agent:
    """An agent's config, state dir and (when running) its `caseguard-agent run` process."""

    root: Path
    name: str
    addresses: list[str]
    cert_dir: Path
    settings: str = ""
    # Where this agent looks for udisks-style mounts (<root>/<user>/<label>). Tests give every agent
    # its own, so a loop image someone else mounted under /media is never taken for a test's stick.
    media_root: Path = field(default_factory=private_media_root)
    proc: subprocess.Popen[str] | None = None
    session_procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def session_socket(self) -> Path:
        # Unix socket paths are limited to ~108 bytes; pytest's tmp paths can be longer.
        return Path("/tmp") / f"cg-{abs(hash(str(self.root / self.name))) % 10**12}.sock"

    @property
    def config(self) -> Path:
        return self.root / f"{self.name}.toml"

    def write_config(self) -> None:
        addrs = ", ".join(f'"{a}"' for a in self.addresses)
        roots = f'media_roots = ["{self.media_root}"]\n'
        settings, found = re.subn(r"^\[egress\]\n", lambda m: m.group(0) + roots, self.settings, count=1, flags=re.M)
        if not found:
            settings += "[egress]\n" + roots
        self.config.write_text(
            f'state_dir = "{self.root / (self.name + "-state")}"\n'
            f"[collector]\naddresses = [{addrs}]\n"
            f'ca = "{self.cert_dir / "ca.pem"}"\ncert = "{self.cert_dir / "device.pem"}"\n'
            f'key = "{self.cert_dir / "device.key"}"\ntimeout_s = 5\n'
            f"[retry]\ninitial_backoff_s = 0.1\nmax_backoff_s = 1.0\n"
            f'[session]\nsocket = "{self.session_socket}"\n' + settings
        )

    def emit(self, count: int, kind: str = "test") -> None:
        run_cli("agent", "emit", "--config", str(self.config), "--kind", kind, "--count", str(count), timeout=300)

    def start(self) -> None:
        log = open(self.root / f"{self.name}.log", "a")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "agent", "run", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
            text=True, env=env,
        )
        log.close()

    def start_session(self, env: dict[str, str]) -> subprocess.Popen[str]:
        """Start `caseguard-agent session` (the per-user component) with the session's environment."""
        log = open(self.root / f"{self.name}-session.log", "a")  # noqa: SIM115
        proc = subprocess.Popen(
            [PYTHON, "-m", "agent", "session", "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
            text=True, env={**env, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        self.session_procs.append(proc)
        return proc

    def log(self) -> str:
        p = self.root / f"{self.name}.log"
        return p.read_text() if p.exists() else ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> float:
        """SIGTERM and wait; returns how long the agent took to exit."""
        if self.proc is None:
            return 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None
            raise AssertionError(f"agent {self.name} did not stop within 15 s") from None
        code, self.proc = self.proc.returncode, None
        if code != 0:
            raise AssertionError(f"agent {self.name} exited with {code} on SIGTERM:\n{self.log()[-3000:]}")
        return time.monotonic() - t0

    def status(self) -> dict[str, object]:
        import json

        return dict(json.loads(run_cli("agent", "status", "--config", str(self.config), "--json").stdout))
