"""Where the agent's memory and idle CPU go: a breakdown that can be re-run after any change.

1. Imports, per process role, each in a fresh interpreter: the RSS and the Python heap
   (tracemalloc) each part of the import set adds, in the order the process loads them, and
   which heavy modules (grpc, pydantic, pypdf, pypdfium2, PIL, pytesseract...) end up loaded.
   The system role also times the first judgement of a file (what lazy loading defers).
2. Running: the whole agent as bench/lock.py runs it (Xvfb, collector, system part, session
   component, every watcher on, egress on a 5,000-directory tree). For each process: RSS
   grouped by mapping (Python heap, thread stacks, each native library), thread count, CPU %
   over the window and the busiest threads. With ``--py-spy DIR`` (py-spy installed) it also
   records a flame graph of each process's idle loop.

Prints a final JSON line with per-part MB:
{"imports": {"system": {...}, "session": {...}}, "running": {"system": {...}, "session": {...}}, ...}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lock import _start_xvfb, _tree  # noqa: E402
from tests.integration.harness import Agent, Collector, wait_for  # noqa: E402

HEAVY = (
    "grpc", "google.protobuf", "pydantic", "pydantic_core", "watchdog", "psutil", "cryptography",
    "pypdf", "pypdfium2", "PIL", "pytesseract", "Xlib", "pynput", "defusedxml", "multiprocessing",
    "agent.classify", "agent.egress_pipeline", "agent.sandbox.runner", "agent.transport", "agent.runtime",
)  # fmt: skip

# (label, modules imported for it), in the order each process loads them.
SYSTEM_PARTS: list[tuple[str, list[str]]] = [
    ("config (settings rules)", ["agent.config"]),
    ("cli and logging", ["agent.cli"]),
    ("grpc core", ["grpc"]),
    ("transport (protobuf, codec, credentials)", ["agent.transport.client", "agent.transport.sender"]),
    ("outbox", ["agent.outbox"]),
    ("watchdog", ["watchdog.observers"]),
    ("classifier", ["agent.classify"]),
    ("egress pipeline", ["agent.egress_pipeline"]),
    ("runtime (policy, posture, session channel)", ["agent.runtime"]),
]
SESSION_PARTS: list[tuple[str, list[str]]] = [
    ("config (settings rules)", ["agent.config"]),
    ("cli and logging", ["agent.cli"]),
    ("session runtime (lock, posture, channel)", ["agent.session_runtime"]),
    ("x11 idle clock (python-xlib)", ["agent.lock.idle_x11", "Xlib.display"]),
]

_PROBE = r"""
import json, sys, time, tracemalloc
parts = json.loads(sys.argv[1]); traced = sys.argv[2] == "1"; judge = sys.argv[3] == "1"
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
if traced:
    tracemalloc.start()
out = []
def mark(label, before_rss, before_heap, t0):
    heap = tracemalloc.get_traced_memory()[0] / 2**20 if traced else 0.0
    out.append({"part": label, "rss_mb": round(rss() - before_rss, 1), "heap_mb": round(heap - before_heap, 1),
                "ms": round(1000 * (time.perf_counter() - t0))})
start = rss()
for label, modules in parts:
    r, h, t0 = rss(), (tracemalloc.get_traced_memory()[0] / 2**20 if traced else 0.0), time.perf_counter()
    for m in modules:
        __import__(m)
    mark(label, r, h, t0)
if judge:
    from agent.classify import classify_bytes
    doc = b"Child protection case record. NHS number: 999 012 2407. OFFICIAL-SENSITIVE\n" * 50
    r, h, t0 = rss(), (tracemalloc.get_traced_memory()[0] / 2**20 if traced else 0.0), time.perf_counter()
    classify_bytes(doc, "note.txt")
    mark("first judgement of a file (classifier tables)", r, h, t0)
print(json.dumps({"baseline_mb": round(start, 1), "total_mb": round(rss(), 1), "parts": out,
                  "heavy_loaded": [m for m in HEAVY if m in sys.modules]}))
"""


def import_breakdown(parts: list[tuple[str, list[str]]], judge: bool) -> dict[str, Any]:
    """Import ``parts`` in order in a fresh interpreter; RSS and (second run) tracemalloc per part."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'protos'}{os.pathsep}{ROOT}"}
    code = f"HEAVY = {HEAVY!r}\n" + _PROBE
    runs = []
    for traced in ("0", "1"):
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(parts), traced, "1" if judge else "0"],
            capture_output=True, text=True, env=env, check=True, cwd=ROOT,
        )  # fmt: skip
        runs.append(json.loads(proc.stdout.splitlines()[-1]))
    plain, traced_run = runs
    for part, heap in zip(plain["parts"], traced_run["parts"], strict=True):
        part["heap_mb"] = heap["heap_mb"]
    return plain


def _group(path: str, size_kb: int, stack_kb: int) -> str:
    if path == "[heap]":
        return "heap (brk)"
    if path == "":
        return "thread stacks" if size_kb == stack_kb else "anonymous (malloc arenas, mmaps)"
    if path.startswith("["):
        return path
    m = re.search(r"site-packages/([^/]+)", path)
    if m:
        return "lib " + m.group(1).split(".")[0].removesuffix("_core")
    if "libpython" in path or re.search(r"/python3\.\d+$", path):
        return "python interpreter"
    if "/lib-dynload/" in path:
        return "python extension modules"
    return "lib " + re.sub(r"\.so.*$", "", os.path.basename(path))


def memory_map(pid: int) -> dict[str, float]:
    """RSS of ``pid`` by mapping group (MB), from /proc/PID/smaps."""
    stack_kb = _thread_stack_kb()
    groups: dict[str, float] = defaultdict(float)
    path, size = "", 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = head[5] if len(head) > 5 else ""
            elif head[0] == "Size:":
                size = int(head[1])
            elif head[0] == "Rss:":
                groups[_group(path, size, stack_kb)] += int(head[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(groups.items(), key=lambda kv: -kv[1]) if v >= 0.1}


def _thread_stack_kb() -> int:
    """glibc's default thread stack: the soft RLIMIT_STACK (8 MB on most systems)."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    return 8192 if soft == resource.RLIM_INFINITY else soft // 1024


def running_breakdown(seconds: float, dirs: int, idle_timeout_s: float, py_spy: Path | None) -> dict[str, Any]:
    """Run the whole agent as bench/lock.py does and break down each process."""
    xvfb, display = _start_xvfb()
    env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    os.environ.update(env)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="caseguard-footprint-") as tmp:
        work = Path(tmp)
        tree = work / "personal"
        _tree(tree, dirs)
        collector = Collector(work / "collector")
        collector.data_dir.mkdir()
        collector.init_pki()
        collector.start()
        certs = collector.issue("bench-laptop", work / "certs")
        settings = (  # bench/lock.py's settings: the mover below keeps the session from locking
            f'[lock]\nidle_timeout_s = {idle_timeout_s}\nwarn_s = {idle_timeout_s / 4}\ncommand = ["i3lock", "-n"]\n'
            f'[egress]\npersonal_dirs = ["{tree}"]\n'
        )
        agent = Agent(work, "bench-laptop", [collector.address], certs, settings)
        agent.write_config()
        agent.start()
        mover: subprocess.Popen[bytes] | None = None
        try:
            wait_for(agent.session_socket.exists, 30, "session channel")
            session = agent.start_session(env)
            time.sleep(8)  # start-up done: the egress walk, the first posture reads
            spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
            procs = {"system": psutil.Process(agent.proc.pid), "session": psutil.Process(session.pid)}  # type: ignore[union-attr]
            mover = subprocess.Popen(
                ["bash", "-c", f"while [ $SECONDS -lt {int(seconds) + 2} ]; do xdotool mousemove_relative 1 0; "
                 "sleep 1; done"], env=env)  # fmt: skip
            spies: list[subprocess.Popen[bytes]] = []
            if py_spy is not None and spy is None:
                print("py-spy not found (pip install py-spy): no flame graphs", file=sys.stderr)
            if py_spy is not None and spy is not None:
                py_spy.mkdir(parents=True, exist_ok=True)
                for role, p in procs.items():
                    spies.append(subprocess.Popen(
                        [spy, "record", "--pid", str(p.pid), "--duration", str(int(seconds)), "--threads",
                         "--format", "speedscope", "--nonblocking",
                         "--output", str(py_spy / f"{role}.speedscope.json")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
            names = {role: _thread_names(p.pid, spy) for role, p in procs.items()}
            before = {role: (p.cpu_times(), _thread_cpu_ns(p.pid)) for role, p in procs.items()}
            t0 = time.monotonic()
            peak = dict.fromkeys(procs, 0.0)
            while time.monotonic() - t0 < seconds:
                for role, p in procs.items():
                    peak[role] = max(peak[role], p.memory_info().rss / 2**20)
                time.sleep(1)
            elapsed = time.monotonic() - t0
            for role, p in procs.items():
                cpu0, threads0 = before[role]
                cpu1 = p.cpu_times()
                busy = sorted(
                    ((ns - threads0.get(tid, 0), tid) for tid, ns in _thread_cpu_ns(p.pid).items()), reverse=True
                )
                result[role] = {
                    "rss_mb": round(peak[role], 1),
                    "cpu_percent": round(100 * (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed, 3),
                    "threads": p.num_threads(),
                    "busiest_threads_cpu_percent": [
                        {
                            "name": names[role].get(tid, _thread_name(p.pid, tid)),
                            "cpu_percent": round(100 * ns / 1e9 / elapsed, 4),
                        }
                        for ns, tid in busy[:6]
                    ],
                    "memory_by_mapping_mb": memory_map(p.pid),
                }
            for recorder in spies:
                recorder.wait(30)
        finally:
            if mover is not None:
                mover.wait(10)
            agent.stop()
            for proc in agent.session_procs:
                proc.terminate()
            collector.stop()
            xvfb.kill()
    result["total_rss_mb"] = round(sum(result[r]["rss_mb"] for r in ("system", "session")), 1)
    result["total_cpu_percent"] = round(sum(result[r]["cpu_percent"] for r in ("system", "session")), 3)
    return result


def _thread_cpu_ns(pid: int) -> dict[int, int]:
    """CPU time of each thread of ``pid`` in nanoseconds (schedstat: finer than the 10 ms of cpu_times)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue
    return out


def _thread_names(pid: int, spy: str | None) -> dict[int, str]:
    """Python thread names by OS thread id, from ``py-spy dump`` when it is installed."""
    if spy is None:
        return {}
    try:
        dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r'^Thread (?:0x[0-9a-fA-F]+|(\d+)) \([^)]*\): "([^"]*)"', dump, re.M)
        if m.group(1)
    }


def _thread_name(pid: int, tid: int) -> str:
    try:
        return Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="length of the running window (default 30)")
    ap.add_argument("--dirs", type=int, default=5000, help="directories in the watched personal folder")
    ap.add_argument(
        "--idle-timeout", type=float, default=2.0, help="[lock] idle_timeout_s (default 2, as bench/lock.py)"
    )
    ap.add_argument("--imports-only", action="store_true", help="skip the running part (no Xvfb needed)")
    ap.add_argument("--py-spy", type=Path, default=None, metavar="DIR", help="also record flame graphs into DIR")
    args = ap.parse_args()
    report: dict[str, Any] = {
        "imports": {
            "system": import_breakdown(SYSTEM_PARTS, judge=True),
            "session": import_breakdown(SESSION_PARTS, judge=False),
        }
    }
    if not args.imports_only:
        report["running"] = running_breakdown(args.seconds, args.dirs, args.idle_timeout, args.py_spy)
    for role, data in report["imports"].items():
        print(f"imports, {role} (baseline interpreter {data['baseline_mb']} MB, total {data['total_mb']} MB):")
        for part in data["parts"]:
            print(f"  {part['rss_mb']:6.1f} MB rss {part['heap_mb']:6.1f} MB heap {part['ms']:5d} ms  {part['part']}")
        print(f"  heavy modules loaded: {', '.join(data['heavy_loaded'])}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
