"""What IT installs (deploy/), checked as far as this Linux machine can check it.

- The Linux units, installed into a scratch root laid out like ``/``, pass ``systemd-analyze
  verify`` with no warning at all, and keep their hardening (``systemd-analyze security``).
- The sandbox the system units declare (system-call filter, no writable+executable memory,
  socket families, user and capabilities) is rebuilt with seccomp and setpriv around the real
  collector and agent, which must still deliver events, run lsblk and stop promptly.
- macOS plists, Windows task and service XML, the Dockerfile, the compose file and the
  Kubernetes manifests parse and say what the Linux units say; every command line in deploy/
  uses only options the real CLI accepts.

Needs the Debian packages ``systemd`` (systemd-analyze), ``python3-seccomp`` and ``util-linux``
(setpriv), and root for the sandbox run; fails loudly without them, never skips.
"""

from __future__ import annotations

import configparser
import ctypes
import errno
import json
import os
import plistlib
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from defusedxml import ElementTree as DefusedET  # type: ignore[import-untyped]

from agent.policy.session_file import HANDOFF_DIR
from tests.integration.harness import free_port, run_cli, wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
AGENT_TREE = DEPLOY / "linux" / "agent"
COLLECTOR_TREE = DEPLOY / "linux" / "collector"
AGENT_UNIT = AGENT_TREE / "usr/lib/systemd/system/caseguard-agent.service"
COLLECTOR_UNIT = COLLECTOR_TREE / "usr/lib/systemd/system/caseguard-collector.service"
SESSION_UNIT = AGENT_TREE / "usr/lib/systemd/user/caseguard-agent-session.service"
AUTOSTART = AGENT_TREE / "etc/xdg/autostart/caseguard-agent-session.desktop"
AGENT_EXAMPLE = DEPLOY / "agent.example.toml"
COLLECTOR_EXAMPLE = DEPLOY / "collector.example.toml"
HOST_SYSTEM_UNITS = Path("/usr/lib/systemd/system")
HOST_USER_UNITS = Path("/usr/lib/systemd/user")
SYSTEM_PYTHON = "/usr/bin/python3"  # the Debian interpreter python3-seccomp belongs to
VENV_BIN = Path(sys.executable).parent
NOBODY = 65534  # stands in for the agent's dedicated system user
PERSON = 4242  # a member of staff whose session part runs as them
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}

# Exposure scores (0 = locked down, 10 = none) from `systemd-analyze security`; the units
# score 2.2 and 1.5 (systemd 252). Dropping hardening options pushes them past these bounds.
MAX_EXPOSURE = {"caseguard-agent.service": 2.5, "caseguard-collector.service": 2.0}


# --- reading the files ---------------------------------------------------------------------


Unit = dict[str, dict[str, list[str]]]


def parse_unit(path: Path) -> Unit:
    """A systemd unit as section -> key -> every value assigned, in order."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):  # continued on the next line
            pending += line[:-1].rstrip() + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and section is not None, f"{path.name}: cannot read line {raw!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def last(unit: Unit, section: str, key: str) -> str | None:
    """The value in effect (the last assignment), or None when never set."""
    values = unit.get(section, {}).get(key)
    return values[-1] if values else None


def toml_value(path: Path, section: str | None, key: str) -> Any:
    import tomllib

    data = tomllib.loads(path.read_text())
    return (data[section] if section else data)[key]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        instruction, _, args = full.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# --- systemd-analyze -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None or not HOST_SYSTEM_UNITS.is_dir() or not HOST_USER_UNITS.is_dir():
        pytest.fail("systemd-analyze or systemd's own units are missing: install the Debian package `systemd`")
    return tool


@pytest.fixture(scope="module")
def scratch_root(tmp_path_factory: pytest.TempPathFactory, systemd_analyze: str) -> Path:
    """A tree laid out like / with systemd's own units, ours, and stub executables."""
    root = tmp_path_factory.mktemp("root")
    # systemd's own units (sysinit.target, graphical-session.target, session.slice, ...):
    # verify follows every dependency and fails on one it cannot find.
    shutil.copytree(HOST_SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(HOST_USER_UNITS, root / "usr/lib/systemd/user", symlinks=True)
    for tree in (AGENT_TREE, COLLECTOR_TREE):
        shutil.copytree(tree, root, dirs_exist_ok=True)
    # ExecStart must name an executable; under --root it is looked up inside the root.
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    for name in ("caseguard-agent", "caseguard-collector"):
        stub = root / "usr/bin" / name
        stub.write_text(f'#!/bin/sh\nexec {shlex.quote(str(VENV_BIN / name))} "$@"\n')
        stub.chmod(0o755)
    return root


def analyze(tool: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_system_units_pass_systemd_analyze_verify_without_warnings(systemd_analyze, scratch_root):
    units = ["caseguard-agent.service", "caseguard-collector.service"]
    result = analyze(systemd_analyze, "verify", f"--root={scratch_root}", *units)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", f"systemd-analyze verify:\n{output}"


def test_verify_does_report_an_unknown_directive(systemd_analyze, scratch_root):
    """The check above can fail: verify warns (and still exits 0) on a directive it does not know."""
    canary = scratch_root / "usr/lib/systemd/system/caseguard-canary.service"
    canary.write_text(AGENT_UNIT.read_text().replace("[Service]\n", "[Service]\nProtectEverything=yes\n", 1))
    try:
        result = analyze(systemd_analyze, "verify", f"--root={scratch_root}", canary.name)
    finally:
        canary.unlink()
    assert "Unknown key 'ProtectEverything'" in result.stdout + result.stderr


def test_user_unit_passes_systemd_analyze_verify_without_warnings(systemd_analyze, scratch_root, tmp_path):
    # `--user verify` cannot take --root (systemd 252); point its unit path at the scratch tree
    # and its ExecStart at the scratch root's stub instead.
    user_dir = scratch_root / "usr/lib/systemd/user"
    unit = user_dir / SESSION_UNIT.name
    text = SESSION_UNIT.read_text()
    assert "ExecStart=/usr/bin/caseguard-agent " in text
    unit.write_text(text.replace("ExecStart=/usr/bin/", f"ExecStart={scratch_root}/usr/bin/"))
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    result = analyze(
        systemd_analyze, "--user", "verify", str(unit),
        env={"SYSTEMD_UNIT_PATH": str(user_dir), "XDG_RUNTIME_DIR": str(runtime)},
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", f"systemd-analyze --user verify:\n{output}"


@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_system_units_keep_their_hardening(systemd_analyze, scratch_root, unit):
    result = analyze(systemd_analyze, "security", "--offline=yes", f"--root={scratch_root}", unit)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", result.stdout)
    assert match, f"no exposure score:\n{result.stdout}\n{result.stderr}"
    assert float(match.group(1)) <= MAX_EXPOSURE[unit], result.stdout


def test_presets_enable_the_units_and_sysusers_creates_their_users(systemd_analyze, scratch_root):
    """What a package's post-install does, offline in the scratch root."""
    tools = {name: shutil.which(name) for name in ("systemctl", "systemd-sysusers")}
    if None in tools.values():
        pytest.fail(f"{tools} : install the Debian package `systemd`")
    root = f"--root={scratch_root}"
    for args in (
        [root, "preset", "caseguard-agent.service", "caseguard-collector.service"],
        [root, "--global", "preset", "caseguard-agent-session.service"],
    ):
        result = subprocess.run([str(tools["systemctl"]), *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    for link in (
        "etc/systemd/system/multi-user.target.wants/caseguard-agent.service",
        "etc/systemd/system/multi-user.target.wants/caseguard-collector.service",
        "etc/systemd/user/graphical-session.target.wants/caseguard-agent-session.service",
    ):
        assert (scratch_root / link).is_symlink(), link
    (scratch_root / "etc").mkdir(exist_ok=True)
    result = subprocess.run(
        [str(tools["systemd-sysusers"]), root, "caseguard-agent.conf", "caseguard-collector.conf"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    users = {line.split(":")[0] for line in (scratch_root / "etc/passwd").read_text().splitlines()}
    for unit_path in (AGENT_UNIT, COLLECTOR_UNIT):
        assert last(parse_unit(unit_path), "Service", "User") in users, unit_path.name


# --- what the units promise ----------------------------------------------------------------


def systemd_seconds(value: str) -> float:
    """A systemd time span such as ``30s``, ``10min`` or ``1h 5s``, in seconds."""
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def test_agent_system_unit_matches_the_agent_config_and_sees_new_mounts():
    unit = parse_unit(AGENT_UNIT)
    svc = "Service"
    assert last(unit, svc, "ExecStart") == "/usr/bin/caseguard-agent run --config /etc/caseguard/agent.toml"
    assert last(unit, svc, "Restart") == "always"
    # A fatal start (unusable identity or outbox) must not spin: spaced restarts, then a stop.
    assert systemd_seconds(str(last(unit, svc, "RestartSec"))) >= 10
    burst = int(str(last(unit, "Unit", "StartLimitBurst")))
    interval = systemd_seconds(str(last(unit, "Unit", "StartLimitIntervalSec")))
    assert interval > 0 and 1 <= burst <= 10, (interval, burst)
    # The documentation tells IT what they will see.
    readme = (DEPLOY / "README.md").read_text()
    assert "StartLimitBurst=5" in readme and "start-limit-hit" in readme
    # The example config's state_dir and session socket are the unit's State- and RuntimeDirectory.
    state_dir = Path(toml_value(AGENT_EXAMPLE, None, "state_dir"))
    assert state_dir == Path("/var/lib") / str(last(unit, svc, "StateDirectory"))
    socket_path = Path(toml_value(AGENT_EXAMPLE, "session", "socket"))
    assert socket_path.parent == Path("/run") / str(last(unit, svc, "RuntimeDirectory"))
    assert last(unit, svc, "RuntimeDirectoryMode") == "0755", "users' session parts must reach the socket"
    # Certificate renewal replaces the key and certificate where the config keeps them.
    writable = {p.lstrip("-") for v in unit[svc].get("ReadWritePaths", []) for p in v.split()}
    for key in ("cert", "key"):
        assert str(Path(toml_value(AGENT_EXAMPLE, "collector", key)).parent) in writable, key
    # A dedicated user whose only privilege is reading everything.
    assert last(unit, svc, "User") == "caseguard-agent"
    assert last(unit, svc, "AmbientCapabilities") == last(unit, svc, "CapabilityBoundingSet") == "CAP_DAC_READ_SEARCH"
    sysusers = (AGENT_TREE / "usr/lib/sysusers.d/caseguard-agent.conf").read_text()
    assert re.search(r"^u caseguard-agent ", sysusers, re.MULTILINE)
    # Later mounts (/media, /run/media) must reach it; home folders stay readable.
    assert last(unit, svc, "MountFlags") in (None, "shared")
    assert last(unit, svc, "PrivateMounts") in (None, "no")
    assert last(unit, svc, "ProtectHome") == "read-only"
    assert last(unit, svc, "PrivateDevices") == "no"
    for path in ("/media", "/run/media", "/home"):
        for key in ("InaccessiblePaths", "TemporaryFileSystem"):
            assert not any(path in v.split() for v in unit[svc].get(key, [])), f"{key} hides {path}"


def test_collector_unit_runs_unprivileged_with_its_data_dir():
    unit = parse_unit(COLLECTOR_UNIT)
    svc = "Service"
    argv = shlex.split(str(last(unit, svc, "ExecStart")))
    assert argv[:2] == ["/usr/bin/caseguard-collector", "serve"]
    data_dir = argv[argv.index("--data-dir") + 1]
    assert data_dir == f"/var/lib/{last(unit, svc, 'StateDirectory')}"
    assert last(unit, svc, "User") == "caseguard"
    assert last(unit, svc, "CapabilityBoundingSet") == ""
    assert last(unit, svc, "ProtectHome") == "yes" and last(unit, svc, "PrivateDevices") == "yes"
    sysusers = (COLLECTOR_TREE / "usr/lib/sysusers.d/caseguard-collector.conf").read_text()
    assert re.search(r"^u caseguard ", sysusers, re.MULTILINE)


# Anything here is inherited by the screen locker the session part starts; NoNewPrivileges
# alone would stop PAM's setgid unix_chkpwd, so the user could never unlock.
LOCKER_BREAKING = (
    "NoNewPrivileges", "SystemCallFilter", "MemoryDenyWriteExecute", "RestrictSUIDSGID",
    "CapabilityBoundingSet", "PrivateUsers", "RestrictAddressFamilies", "ProtectSystem",
)


def test_session_unit_follows_the_graphical_session_and_spares_the_locker():
    unit = parse_unit(SESSION_UNIT)
    assert last(unit, "Unit", "PartOf") == "graphical-session.target"
    assert last(unit, "Unit", "After") == "graphical-session.target"
    assert last(unit, "Install", "WantedBy") == "graphical-session.target"
    assert last(unit, "Service", "KillMode") == "process", "stopping the unit must not kill the screen lock"
    assert last(unit, "Service", "Restart") == "always"
    assert last(unit, "Service", "ExecStart") == "/usr/bin/caseguard-agent session --config /etc/caseguard/agent.toml"
    assert not set(unit["Service"]) & set(LOCKER_BREAKING)
    preset = (AGENT_TREE / "usr/lib/systemd/user-preset/80-caseguard-agent.preset").read_text()
    assert "enable caseguard-agent-session.service" in preset


def test_autostart_entry_is_the_fallback_only():
    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(AUTOSTART.read_text())
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == last(parse_unit(SESSION_UNIT), "Service", "ExecStart")
    # Where systemd runs the session, the user unit does the job: never start a second one.
    assert desktop["X-systemd-skip"] == "true"
    assert desktop["X-GNOME-HiddenUnderSystemd"] == "true"


# --- the sandbox, for real -----------------------------------------------------------------

# Run by the Debian python3 (python3-seccomp): loads a seccomp filter built the way systemd
# builds it from the unit's settings, then execs the command. Group contents come from the
# installed systemd (`systemd-analyze syscall-filter`).
LAUNCHER = r'''
import errno, json, os, socket, subprocess, sys
import seccomp

spec = json.loads(sys.argv[1])
listing = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout
groups, current = {}, None
for line in listing.splitlines():
    text = line.strip()
    if not text or text.startswith("#"):
        continue
    if line[0] != " ":
        current = groups.setdefault(text, [])
    else:
        current.append(text)

def expand(names):
    out = set()
    for name in names:
        out |= expand(groups[name]) if name.startswith("@") else {name}
    return out

allowed = expand(spec["allow"]) - expand(spec["deny"])
guarded = {"mmap", "mprotect", "pkey_mprotect", "socket"}
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(getattr(errno, spec["errno"])))
for name in sorted(allowed - guarded):
    try:
        f.add_rule(seccomp.ALLOW, name)
    except (RuntimeError, ValueError):
        pass  # not a system call on this architecture
W, X = 0x2, 0x4
for name in ("mmap", "mprotect", "pkey_mprotect"):
    if name not in allowed:
        continue
    if not spec["mdwe"]:
        f.add_rule(seccomp.ALLOW, name)
    elif name == "mmap":  # systemd: refuse PROT_WRITE|PROT_EXEC together
        for prot in (0, W, X):
            f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, W | X, prot))
    else:  # systemd: refuse making anything executable after the fact
        f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, X, 0))
for family in spec["families"]:
    f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, getattr(socket, family)))
f.load()
os.execv(sys.argv[2], sys.argv[2:])
'''


def sandbox_spec(unit: Unit) -> dict[str, Any]:
    """The seccomp-relevant settings of a unit's [Service] section."""
    svc = unit["Service"]
    allow: list[str] = []
    deny: list[str] = []
    for value in svc.get("SystemCallFilter", []):
        (deny if value.startswith("~") else allow).extend(value.lstrip("~").split())
    assert allow, "the units use an allow-list (SystemCallFilter=@system-service)"
    return {
        "allow": allow,
        "deny": deny,
        "errno": last(unit, "Service", "SystemCallErrorNumber") or "EPERM",
        "mdwe": last(unit, "Service", "MemoryDenyWriteExecute") == "yes",
        "families": (last(unit, "Service", "RestrictAddressFamilies") or "").split(),
    }


def capability_args(unit: Unit) -> list[str]:
    """setpriv options for the unit's bounding set and ambient capabilities."""
    def caps(key: str) -> str:
        names = (last(unit, "Service", key) or "").split()
        return "".join(f",+{n.lower().removeprefix('cap_')}" for n in names)

    bounding, ambient = caps("CapabilityBoundingSet"), caps("AmbientCapabilities")
    args = [f"--bounding-set=-all{bounding}", f"--inh-caps=-all{ambient}"]
    if ambient:
        args.append(f"--ambient-caps=-all{ambient}")
    return args


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short path (Unix socket names are limited) that an unprivileged user can reach."""
    path = Path(tempfile.mkdtemp(prefix="cg-deploy-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sandbox_dir(short_dir: Path) -> Path:
    if os.geteuid() != 0:
        pytest.fail("needs root: the sandbox run switches to an unprivileged user with setpriv")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing: install the Debian package `util-linux`")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import seccomp"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"{SYSTEM_PYTHON} cannot import seccomp: install the Debian package `python3-seccomp`")
    (short_dir / "launcher.py").write_text(LAUNCHER)
    return short_dir


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A collector data dir with its PKI, and one device's certificates (made once)."""
    for name in ("caseguard-agent", "caseguard-collector"):
        if not (VENV_BIN / name).exists():
            pytest.fail(f"{VENV_BIN / name} is missing: install the project (scripts/setup.sh)")
    root = tmp_path_factory.mktemp("pki")
    data_dir, certs = root / "collector", root / "certs"
    run_cli("collector", "pki", "init", "--data-dir", str(data_dir))
    run_cli("collector", "devices", "issue", "LAPTOP-1", "--data-dir", str(data_dir), "--out", str(certs))
    return data_dir, certs


def sandboxed(workdir: Path, unit: Unit, argv: list[str], user: list[str] | None = None) -> list[str]:
    return [
        "setpriv", *(user or []), *capability_args(unit),
        SYSTEM_PYTHON, str(workdir / "launcher.py"), json.dumps(sandbox_spec(unit)), *argv,
    ]


def test_sandbox_emulation_refuses_what_the_units_forbid(sandbox_dir, systemd_analyze):
    """The emulated sandbox is not a no-op: writable+executable memory and netlink are refused."""
    unit = parse_unit(AGENT_UNIT)
    for code in (
        "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)",
        "import socket; socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
    ):
        argv = sandboxed(sandbox_dir, unit, [SYSTEM_PYTHON, "-c", code])
        result = subprocess.run(argv, capture_output=True, text=True)
        assert result.returncode != 0 and f"[Errno {errno.EPERM}]" in result.stderr, (code, result.stderr)


# faulthandler: SIGABRT makes a hung process print every thread's stack before dying.
DEBUG_ENV = {**os.environ, "PYTHONFAULTHANDLER": "1", "PYTHONUNBUFFERED": "1"}
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}


def signal_thread(pid: int, tid: int, sig: int) -> None:
    """Send ``sig`` to one thread of process ``pid`` (tgkill), not to whichever the kernel picks."""
    number = SYS_TGKILL.get(os.uname().machine)
    if number is None:
        pytest.fail(f"no tgkill system call number known for {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}) failed")


class DidNotStop(AssertionError):
    """The process was still running well after SIGTERM."""


def stop(proc: subprocess.Popen[bytes], within: float, log: Path, thread: int | None = None) -> int:
    """SIGTERM to one thread (the main one by default) and wait; on a hang, dump every thread's
    stack into the failure. See test_sigterm_to_any_thread_stops_it for why the thread matters."""
    signal_thread(proc.pid, thread or proc.pid, signal.SIGTERM)
    try:
        return proc.wait(within)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        proc.wait(5)
        raise DidNotStop(f"did not stop within {within}s of SIGTERM:\n{log.read_text()}") from None


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=DEBUG_ENV)


def agent_config(path: Path, port: int, certs: Path, runtime: Path) -> Path:
    path.write_text(
        f'state_dir = "{path.parent / "state"}"\n[collector]\naddress = "127.0.0.1:{port}"\n'
        f'ca = "{certs / "ca.pem"}"\ncert = "{certs / "device.pem"}"\nkey = "{certs / "device.key"}"\n'
        f"[retry]\ninitial_backoff_s = 0.1\nmax_backoff_s = 1.0\n"
        f'[session]\nsocket = "{runtime / "session.sock"}"\n'
    )
    return path


def serving(proc: subprocess.Popen[bytes], port: int, log: Path) -> Callable[[], bool]:
    """The collector accepts connections and has said so (after installing its signal handlers)."""
    def check() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {log.read_text()}")
        if "caseguard-collector: serving on" not in log.read_text():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    return check


def collector_argv(data_dir: Path, port: int) -> list[str]:
    """The collector unit's own ExecStart, moved to this test's files and loopback ports
    (``--listen`` on ``port``; the enrolment and console listeners on free ones)."""
    argv = shlex.split(str(last(parse_unit(COLLECTOR_UNIT), "Service", "ExecStart")))
    argv[0] = str(VENV_BIN / Path(argv[0]).name)
    moved = {"--data-dir": str(data_dir), "--config": str(COLLECTOR_EXAMPLE), "--listen": f"127.0.0.1:{port}"}
    for i, arg in enumerate(argv[:-1]):
        if arg in moved:
            argv[i + 1] = moved[arg]
        elif re.fullmatch(r"[\w.]+:\d+", argv[i + 1]) and arg.startswith("--"):
            argv[i + 1] = f"127.0.0.1:{free_port()}"
    return argv


def stored_kinds(data_dir: Path) -> list[str]:
    """Kinds of the events the collector stored (as the harness counts them)."""
    path = data_dir / "collector.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    try:
        return [str(k) for (k,) in db.execute("SELECT kind FROM events")]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_collector_and_agent_work_inside_their_units_sandbox(sandbox_dir, systemd_analyze, pki):
    """The real collector and agent, under the system-call filter, W^X rule, socket families,
    user and capabilities their units declare: events flow, lsblk runs, SIGTERM stops them."""
    agent_unit, collector_unit = parse_unit(AGENT_UNIT), parse_unit(COLLECTOR_UNIT)
    data_dir = pki[0]
    certs = sandbox_dir / "certs"
    shutil.copytree(pki[1], certs)
    port = free_port()
    collector_log, agent_log = sandbox_dir / "collector.log", sandbox_dir / "agent.log"
    collector = start(sandboxed(sandbox_dir, collector_unit, collector_argv(data_dir, port)), collector_log)
    agent: subprocess.Popen[bytes] | None = None
    try:
        wait_for(serving(collector, port, collector_log), 20, "the sandboxed collector")
        # As the unit has it: state and runtime directories and the device key belong to the
        # agent's user (systemd chowns State-/RuntimeDirectory; IT installs the key so).
        runtime = sandbox_dir / "run"
        config = agent_config(sandbox_dir / "agent.toml", port, certs, runtime)
        # The unit's UMask, for the agent's own files (the outbox is never the users' to read).
        umask = os.umask(int(str(last(agent_unit, "Service", "UMask")), 8))
        try:
            run_cli("agent", "emit", "--config", str(config), "--count", "50")
        finally:
            os.umask(umask)
        runtime.mkdir(mode=0o755)
        state = sandbox_dir / "state"
        for path in (state, *state.iterdir(), runtime, certs / "device.key"):
            os.chown(path, NOBODY, NOBODY)
        state.chmod(int(str(last(agent_unit, "Service", "StateDirectoryMode")), 8))  # as systemd makes it
        # Not readable without CAP_DAC_READ_SEARCH: the certificates' folder stays root's, 0700.
        certs.chmod(0o700)
        umask = os.umask(int(str(last(agent_unit, "Service", "UMask")), 8))
        try:
            agent = start(
                sandboxed(
                    sandbox_dir, agent_unit, [str(VENV_BIN / "caseguard-agent"), "run", "--config", str(config)],
                    user=[f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"],
                ),
                agent_log,
            )
        finally:
            os.umask(umask)

        def delivered() -> bool:
            assert agent is not None
            if agent.poll() is not None:
                raise AssertionError(f"agent exited: {agent_log.read_text()}")
            kinds = stored_kinds(data_dir)
            return kinds.count("test") == 50 and "encryption_posture" in kinds

        wait_for(delivered, 20, "50 events and an encryption posture from the sandboxed agent")
        listed = run_cli("collector", "events", "list", "--data-dir", str(data_dir), "--json").stdout
        posture = [e for e in map(json.loads, listed.splitlines()) if e["kind"] == "encryption_posture"]
        assert not any("lsblk" in d for d in posture[0]["details"]), posture[0]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(runtime / "session.sock"))  # the session channel is listening
        # A person's session part (another unprivileged user) reads what the agent hands it, and
        # nothing else of the agent's: not the outbox, not even the names in its state folder.
        session_user = ["setpriv", f"--reuid={PERSON}", f"--regid={PERSON}", "--clear-groups"]
        probe = (
            "import os, sys; from pathlib import Path\n"
            "from agent.policy.session_file import handoff_problem, read_session_policy\n"
            "state = Path(sys.argv[1])\n"
            "print(repr(handoff_problem(state)), read_session_policy(state) is not None)\n"
            "for what, look in (('outbox', lambda: open(state / 'outbox.sqlite3', 'rb')), "
            "('listing', lambda: os.listdir(state))):\n"
            "    try:\n        look(); print(what, 'readable')\n"
            "    except PermissionError:\n        print(what, 'refused')\n"
        )
        seen = subprocess.run([*session_user, sys.executable, "-c", probe, str(state)], capture_output=True,
                              text=True, timeout=30, cwd=Path(__file__).parents[2])  # fmt: skip
        lines = seen.stdout.split("\n")[:3]
        assert lines == ["'' True", "outbox refused", "listing refused"], seen.stdout + seen.stderr

        assert stop(agent, 10, agent_log) == 0, agent_log.read_text()
        agent = None
        assert stop(collector, 20, collector_log) == 0, collector_log.read_text()
    finally:
        for proc in (agent, collector):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)


@pytest.mark.parametrize("program", ["caseguard-agent", "caseguard-collector"])
def test_sigterm_to_any_thread_stops_it(program, pki, short_dir):
    """systemd's SIGTERM goes to the process; the kernel may hand it to any of its threads."""
    data_dir, certs = pki
    port = free_port()
    log = short_dir / "out.log"
    if program == "caseguard-collector":
        proc = start(collector_argv(data_dir, port), log)
        ready = serving(proc, port, log)
    else:
        config = agent_config(short_dir / "agent.toml", port, certs, short_dir)
        proc = start([str(VENV_BIN / program), "run", "--config", str(config)], log)
        # Logged at the end of start(), once the signal handlers are in place.
        ready = lambda: " started as device " in log.read_text()  # noqa: E731
    try:
        wait_for(ready, 20, f"{program} to start")
        workers = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
        assert stop(proc, 3, log, thread=workers[-1]) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# --- macOS, Windows ------------------------------------------------------------------------


def test_macos_launchd_plists():
    daemon = plistlib.loads((DEPLOY / "macos/org.caseguard.agent.plist").read_bytes())
    assert daemon["Label"] == "org.caseguard.agent"
    assert daemon["ProgramArguments"][1] == "run" and daemon["KeepAlive"] is True and daemon["RunAtLoad"] is True
    session = plistlib.loads((DEPLOY / "macos/org.caseguard.agent-session.plist").read_bytes())
    assert session["Label"] == "org.caseguard.agent-session"
    assert session["ProgramArguments"][1] == "session"
    assert session["LimitLoadToSessionType"] == "Aqua"
    assert session["KeepAlive"] is True
    assert session["AbandonProcessGroup"] is True, "the locker must outlive the job"
    assert daemon["ProgramArguments"][2:] == session["ProgramArguments"][2:], "one config for both parts"


def test_windows_logon_task_and_service_definitions():
    task = DefusedET.parse(DEPLOY / "windows/caseguard-agent-session.xml").getroot()
    assert task.tag == f"{{{TASK_NS['t']}}}Task"
    assert task.find("t:Triggers/t:LogonTrigger", TASK_NS) is not None
    assert task.find("t:Triggers/t:LogonTrigger/t:UserId", TASK_NS) is None, "any user's logon"
    assert task.findtext("t:Principals/t:Principal/t:GroupId", namespaces=TASK_NS) == "S-1-5-32-545"
    assert task.findtext("t:Settings/t:MultipleInstancesPolicy", namespaces=TASK_NS) == "Parallel"
    assert task.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"
    command = task.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS)
    arguments = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS)
    assert command == '"C:\\Program Files\\Caseguard\\caseguard-agent.exe"'
    assert arguments == 'session --config "C:\\ProgramData\\Caseguard\\agent.toml"'

    service = DefusedET.parse(DEPLOY / "windows/caseguard-agent-service.xml").getroot()
    assert service.findtext("id") == "CaseguardAgent"
    assert service.findtext("arguments") == 'run --config "C:\\ProgramData\\Caseguard\\agent.toml"'
    assert [e.get("action") for e in service.findall("onfailure")] == ["restart"] * 3

    script = (DEPLOY / "windows/install-agent.ps1").read_text()
    for needed in ("New-Service", "sc.exe", "failure", "Register-ScheduledTask", "-RunAsAdministrator"):
        assert needed in script, needed
    # Every user's session part reads the handoff folder, the agent's session_file.HANDOFF_DIR of state_dir.
    assert f'Join-Path $DataDir "state\\{HANDOFF_DIR}"' in script and '"*S-1-5-32-545:(OI)(CI)RX"' in script
    for name in re.findall(r'"(caseguard-agent-[a-z]+\.xml)"', script):
        assert (DEPLOY / "windows" / name).exists(), name


# --- containers ----------------------------------------------------------------------------


def test_dockerfile_builds_from_files_that_exist():
    dockerfile = DEPLOY / "container/Dockerfile"
    instructions = dockerfile_instructions(dockerfile)
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)
    copies = [args for ins, args in instructions if ins == "COPY" and "--from" not in args]
    assert copies
    for args in copies:
        *sources, _dest = shlex.split(args)
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository (the build context)"
    users = [args for ins, args in instructions if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the image must not run as root"
    assert any(ins == "HEALTHCHECK" for ins, _ in instructions)
    ignore = (DEPLOY / "container/Dockerfile.dockerignore").read_text().splitlines()
    for line in ignore:
        if line.startswith("!"):
            assert (REPO / line[1:].rstrip("/")).exists(), line


def test_compose_file():
    compose = yaml.safe_load((DEPLOY / "container/compose.yaml").read_text())
    services = compose["services"]
    assert {"collector", "postgres"} <= set(services)
    collector = services["collector"]
    context = (DEPLOY / "container" / collector["build"]["context"]).resolve()
    assert context == REPO and (context / collector["build"]["dockerfile"]).exists()
    assert collector["environment"]["CASEGUARD_DATABASE_URL"].startswith("postgresql://")
    assert collector["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert collector["read_only"] is True and collector["cap_drop"] == ["ALL"]
    assert "--ops" in collector["command"] and "/readyz" in " ".join(collector["healthcheck"]["test"])
    for volume in collector["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (DEPLOY / "container" / source).exists(), volume


def test_kubernetes_manifests():
    docs = yaml_documents(DEPLOY / "kubernetes/collector.yaml")
    assert sorted(d["kind"] for d in docs) == ["Deployment", "PodDisruptionBudget", "Service", "Service"]
    (deployment,) = (d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    (container,) = pod["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"]}
    for doc in docs:
        if doc["kind"] == "Service":
            assert doc["spec"]["selector"] == labels
            assert {p["targetPort"] for p in doc["spec"]["ports"]} <= port_names
        elif doc["kind"] == "PodDisruptionBudget":
            assert doc["spec"]["selector"]["matchLabels"] == labels
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    ops_arg = container["args"][container["args"].index("--ops") + 1]
    assert int(ops_arg.rsplit(":", 1)[1]) == next(p["containerPort"] for p in container["ports"] if p["name"] == "ops")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    pki_mount = next(m for m in container["volumeMounts"] if m["name"] == "pki")
    assert pki_mount["readOnly"] is True and "secret" in volumes["pki"]
    # What serve reads (the CA signs enrolments and renewals); the policy-signing key stays out.
    keys = {item["key"] for item in volumes["pki"]["secret"]["items"]}
    assert keys == {"ca.pem", "ca.key", "server.pem", "server.key"}
    (job,) = yaml_documents(DEPLOY / "kubernetes/migrate-job.yaml")
    assert job["kind"] == "Job"


# --- every command line uses options the CLI has -------------------------------------------


@cache
def cli_help(program: str, subcommand: str) -> str | None:
    result = subprocess.run(
        [str(VENV_BIN / program), subcommand, "--help"], capture_output=True, text=True, timeout=60
    )
    return result.stdout if result.returncode == 0 else None


def unknown_options(program: str, argv: list[str]) -> list[str]:
    """What in ``argv`` (subcommand first) the real CLI does not accept."""
    help_text = cli_help(program, argv[0])
    if help_text is None:
        return [f"{program} {argv[0]}"]
    return [a for a in argv[1:] if a.startswith("--") and not re.search(rf"\s{re.escape(a)}\b", help_text)]


def service_command_lines() -> list[tuple[str, str, list[str]]]:
    """(where, program, argv from the subcommand on) for every agent/collector start in deploy/."""
    lines: list[tuple[str, str, list[str]]] = []
    for unit_path in (AGENT_UNIT, COLLECTOR_UNIT, SESSION_UNIT):
        argv = shlex.split(str(last(parse_unit(unit_path), "Service", "ExecStart")))
        lines.append((unit_path.name, Path(argv[0]).name, argv[1:]))
    for plist in sorted((DEPLOY / "macos").glob("*.plist")):
        argv = plistlib.loads(plist.read_bytes())["ProgramArguments"]
        lines.append((plist.name, Path(argv[0]).name, argv[1:]))
    task = DefusedET.parse(DEPLOY / "windows/caseguard-agent-session.xml").getroot()
    args = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS)
    lines.append(("caseguard-agent-session.xml", "caseguard-agent", shlex.split(args, posix=False)))
    service = DefusedET.parse(DEPLOY / "windows/caseguard-agent-service.xml").getroot()
    arguments = service.findtext("arguments")
    lines.append(("caseguard-agent-service.xml", "caseguard-agent", shlex.split(arguments, posix=False)))
    instructions = dict(dockerfile_instructions(DEPLOY / "container/Dockerfile"))
    assert json.loads(instructions["ENTRYPOINT"]) == ["caseguard-collector"]
    lines.append(("Dockerfile", "caseguard-collector", json.loads(instructions["CMD"])))
    return lines


def container_command_lines() -> list[tuple[str, str, list[str]]]:
    """The container deployments' command lines."""
    lines: list[tuple[str, str, list[str]]] = []
    services = yaml.safe_load((DEPLOY / "container/compose.yaml").read_text())["services"]
    for name in ("migrate", "collector"):
        lines.append((f"compose.yaml {name}", "caseguard-collector", services[name]["command"]))
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml_documents(path):
            if doc["kind"] in ("Deployment", "Job"):
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    lines.append((f"{path.name} {container['name']}", "caseguard-collector", container["args"]))
    return lines


def container_environment() -> set[str]:
    """Names of the CASEGUARD_* variables the container deployments set."""
    names = set(re.findall(r"\b(CASEGUARD_[A-Z_]+)=", (DEPLOY / "container/Dockerfile").read_text()))
    services = yaml.safe_load((DEPLOY / "container/compose.yaml").read_text())["services"]
    names |= {k for svc in services.values() for k in svc.get("environment", {}) if k.startswith("CASEGUARD_")}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml_documents(path):
            if doc["kind"] in ("Deployment", "Job"):
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    names |= {e["name"] for e in container.get("env", [])}
    return names


def misused_options(lines: list[tuple[str, str, list[str]]]) -> dict[str, list[str]]:
    return {where: bad for where, program, argv in lines if (bad := unknown_options(program, argv))}


def test_command_lines_use_options_the_cli_accepts():
    assert not (problems := misused_options(service_command_lines() + container_command_lines())), problems


def test_container_environment_is_what_the_cli_reads():
    serve_help = cli_help("caseguard-collector", "serve") or ""
    names = container_environment()
    assert "CASEGUARD_DATABASE_URL" in names
    assert not (unread := {n for n in names if f"${n}" not in serve_help}), unread
