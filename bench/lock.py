"""Auto-lock benchmark on real parts: Xvfb, xdotool, i3lock, the agent and its session component.

1. Lateness: 20 idle cycles with a short timeout. For each, the time from the idle
   deadline (last input + timeout) to i3lock running, observed from outside, and the
   lateness the agent itself reported in its lock_enforced event.
2. Footprint: the whole agent (system agent + session component) for 60 s with every
   watcher on (idle clock, lock controller, posture, egress on a 5,000-directory tree),
   CPU % of one core and peak RSS. Baseline in the same run: an idle `python -c` process.

Prints a final JSON line:
{"lateness_p50_s", "lateness_p99_s", "reported_lateness_p99_s", "cpu_percent", "rss_mb", ...}
Targets: p99 lateness <= 1 s; CPU <= 0.5 %; RSS <= 80 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from tests.integration.harness import Agent, Collector, run_cli, wait_for  # noqa: E402

TIMEOUT_S = 2.0


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-noreset", "-nolisten", "tcp", "-screen", "0", "800x600x24"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip().decode()
    if not number:
        raise SystemExit("Xvfb did not start (apt-get install xvfb)")
    return proc, f":{number}"


def _i3lock(display: str) -> psutil.Process | None:
    for proc in psutil.process_iter(["name", "environ", "status"]):
        try:
            if (
                proc.info["name"] == "i3lock"
                and proc.info["status"] != psutil.STATUS_ZOMBIE
                and (proc.info["environ"] or {}).get("DISPLAY") == display
            ):
                return proc
        except psutil.Error:
            continue
    return None


def _locks_at_least(collector: Collector, n: int) -> bool:
    return collector.count("lock_enforced") >= n


def _tree(root: Path, dirs: int) -> None:
    for i in range(dirs):
        (root / f"d{i // 100:03d}" / f"case{i:05d}").mkdir(parents=True, exist_ok=True)


def _footprint(procs: list[psutil.Process], seconds: float) -> tuple[float, float]:
    cpu0 = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    t0 = time.monotonic()
    peak = 0.0
    while time.monotonic() - t0 < seconds:
        peak = max(peak, sum(p.memory_info().rss for p in procs) / 2**20)
        time.sleep(1)
    cpu1 = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    return 100 * (cpu1 - cpu0) / (time.monotonic() - t0), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--dirs", type=int, default=5000)
    args = ap.parse_args()
    xvfb, display = _start_xvfb()
    env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    os.environ.update(env)
    with tempfile.TemporaryDirectory(prefix="caseguard-lock-bench-") as tmp:
        work = Path(tmp)
        tree = work / "personal"
        _tree(tree, args.dirs)
        collector = Collector(work / "collector")
        collector.data_dir.mkdir()
        collector.init_pki()
        collector.start()
        certs = collector.issue("bench-laptop", work / "certs")
        settings = (
            f'[lock]\nidle_timeout_s = {TIMEOUT_S}\nwarn_s = 0.5\ncommand = ["i3lock", "-n"]\n'
            f'[egress]\npersonal_dirs = ["{tree}"]\n'
        )
        agent = Agent(work, "bench-laptop", [collector.address], certs, settings)
        agent.write_config()
        agent.start()
        try:
            wait_for(agent.session_socket.exists, 20, "session channel")
            session = agent.start_session(env)
            time.sleep(2)
            observed: list[float] = []
            for _ in range(args.cycles):
                locker = _i3lock(display)
                if locker is not None:  # "unlock": i3lock is the session component's child, not ours
                    locker.kill()
                    deadline_kill = time.monotonic() + 5
                    while _i3lock(display) is not None and time.monotonic() < deadline_kill:
                        time.sleep(0.02)
                subprocess.run(["xdotool", "mousemove", "--", str(len(observed) * 7 % 500), "20"], env=env, check=True)
                deadline = time.monotonic() + TIMEOUT_S
                while _i3lock(display) is None:
                    if time.monotonic() > deadline + 10:
                        raise SystemExit("no lock within 10 s of the timeout")
                    time.sleep(0.01)
                observed.append(time.monotonic() - deadline)
                # Stay locked until the agent has verified the lock, as a person would (unlocking
                # within milliseconds would make the agent's start-up check see the locker die).
                wait_for(partial(_locks_at_least, collector, len(observed)), 15, "the lock to be verified")
            locker = _i3lock(display)
            if locker is not None:
                locker.kill()
            wait_for(lambda: collector.count("lock_enforced") >= args.cycles, 30, "lock events at the collector")
            out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--json").stdout
            reported = [float(e["lateness_s"]) for e in map(json.loads, out.splitlines())
                        if e["kind"] == "lock_enforced"]
            # Footprint: both agent processes, a session that keeps being used (no lock churn).
            procs = [psutil.Process(agent.proc.pid), psutil.Process(session.pid)]  # type: ignore[union-attr]
            stop_at = time.monotonic() + args.seconds
            mover = subprocess.Popen(
                ["bash", "-c", f"while [ $SECONDS -lt {int(args.seconds) + 2} ]; do xdotool mousemove_relative 1 0; "
                 "sleep 1; done"], env=env)
            cpu, rss = _footprint(procs, args.seconds)
            mover.wait(10)
            baseline = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
            time.sleep(1)  # measure the idle interpreter, not its start-up
            base_cpu, base_rss = _footprint([psutil.Process(baseline.pid)], 5)
            baseline.kill()
            del stop_at
        finally:
            agent.stop()
            for p in agent.session_procs:
                p.terminate()
            collector.stop()
            xvfb.kill()
    print(json.dumps({
        "lateness_p50_s": round(statistics.median(observed), 3),
        "lateness_p99_s": round(percentile(observed, 0.99), 3),
        "reported_lateness_p99_s": round(percentile(reported, 0.99), 3) if reported else None,
        "cycles": len(observed),
        "cpu_percent": round(cpu, 3),
        "rss_mb": round(rss, 1),
        "idle_python_cpu_percent": round(base_cpu, 3),
        "idle_python_rss_mb": round(base_rss, 1),
        "egress_dirs": args.dirs,
        "seconds": args.seconds,
    }))


if __name__ == "__main__":
    main()
