"""A fleet of laptops on one collector: thousands of mTLS channels, heartbeats and small batches.

A real `caseguard-collector serve` process (SQLite) serves N simulated agents, each on its
own mTLS channel with its own device certificate. Each agent heartbeats every
``--interval`` seconds (the real 5 minutes, compressed) and sends a small batch of events
every few heartbeats, as real agents do. One "good" agent on a channel of its own
heartbeats every 100 ms throughout, and its latency is measured twice in the same run:
with the fleet alone, and with a hostile client that keeps STALLED calls open all the
time (as many as it is allowed) and re-opens them as they end.

Prints a final JSON line:
{"channels", "heartbeats_per_s", "batches_per_s", "p50_heartbeat_ms", "p99_heartbeat_ms",
 "collector_cpu_pct_per_1000_hb_s", "collector_rss_mb", "rss_kb_per_channel",
 "good_p99_ms_quiet", "good_p99_ms_hostile", "hostile_ratio", ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import psutil  # noqa: E402

from bench.stats import percentile  # noqa: E402
from caseguard.v1 import collector_pb2, collector_pb2_grpc, events_pb2  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(work: Path, agents: int) -> list[tuple[str, bytes, bytes]]:
    """A PKI, N registered devices (plus good-agent and hostile-agent); their (name, key, cert)."""
    from collector.pki import PkiPaths, init_pki, issue_device_certificate
    from collector.store.factory import open_store

    paths = PkiPaths.in_data_dir(work)
    init_pki(paths, [])
    store = open_store(work)
    out = []
    for name in [f"fleet-{i}" for i in range(agents)] + ["good-agent", "hostile-agent"]:
        issued = issue_device_certificate(paths, name)
        store.register_device(name, issued.fingerprint, 1)
        out.append((name, issued.key_pem, issued.cert_pem))
    store.close()
    return out


def _event(device: str, seq: int) -> events_pb2.Event:
    ev = events_pb2.Event(event_id=str(uuid.uuid4()), seq=seq, device_id=device, agent_version="bench")
    ev.occurred_at.GetCurrentTime()
    ev.test.index = seq
    return ev


class Agent:
    """One simulated laptop: its channel, its sequence, its latencies (with when they ended)."""

    def __init__(self, name: str, key: bytes, cert: bytes, ca: bytes, address: str) -> None:
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
        self.name = name
        self.channel = grpc.aio.secure_channel(address, creds)
        self.stub = collector_pb2_grpc.CollectorStub(self.channel)
        self.seq = 0
        self.beats: list[tuple[float, float]] = []  # (finished at, latency)
        self.batches: list[float] = []  # finished at
        self.errors: dict[str, int] = {}  # status code name -> count, so a run's failures say what they were

    def _failed(self, error: grpc.aio.AioRpcError, phase: str) -> None:
        key = f"{phase}:{error.code().name}"
        self.errors[key] = self.errors.get(key, 0) + 1

    async def heartbeat(self) -> None:
        request = collector_pb2.HeartbeatRequest(outbox_depth=0, agent_version="bench")
        request.sent_at.GetCurrentTime()
        t0 = time.perf_counter()
        try:
            await self.stub.Heartbeat(request, timeout=30)
            self.beats.append((time.monotonic(), time.perf_counter() - t0))
        except grpc.aio.AioRpcError as error:
            self._failed(error, "heartbeat")

    async def send_batch(self, size: int) -> None:
        events = []
        for _ in range(size):
            self.seq += 1
            events.append(_event(self.name, self.seq))
        try:
            await self.stub.SendEvents(collector_pb2.SendEventsRequest(events=events), timeout=30)
            self.batches.append(time.monotonic())
        except grpc.aio.AioRpcError as error:
            self._failed(error, "batch")

    def latencies(self, start: float, end: float) -> list[float]:
        """Heartbeat latencies of calls that finished within [start, end)."""
        return _window(self.beats, start, end)


def _merge(counts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for key, n in one.items():
            total[key] = total.get(key, 0) + n
    return total


def _window(beats: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [lat for at, lat in beats if start <= at < end]


async def _live(agent: Agent, interval: float, until: float, batch_every: int, batch_size: int,
                spread: bool = True) -> None:
    """Heartbeat every ``interval`` (and a batch every ``batch_every`` beats) until ``until``."""
    if spread:
        await asyncio.sleep(random.uniform(0, interval))  # spread the fleet like real start times
    beats = 0
    while time.monotonic() < until:
        await agent.heartbeat()
        beats += 1
        if batch_every and beats % batch_every == 0:
            await agent.send_batch(batch_size)
        await asyncio.sleep(interval)


async def _hostile(channel: grpc.aio.Channel, start: float, until: float, parallel: int) -> int:
    """From ``start``, keep ``parallel`` SendEvents calls open with no request; re-open each as it ends."""
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    made = 0

    async def never() -> AsyncIterator[bytes]:
        await asyncio.sleep(3600)
        yield b""  # pragma: no cover - never reached

    call = channel.stream_unary("/caseguard.v1.Collector/SendEvents", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)

    async def stall() -> None:
        nonlocal made
        while time.monotonic() < until:
            made += 1
            try:
                await asyncio.wait_for(call(never()), timeout=max(0.1, until - time.monotonic()))
            except (grpc.aio.AioRpcError, TimeoutError):
                await asyncio.sleep(0.05)

    await asyncio.gather(*(stall() for _ in range(parallel)))
    return made


async def _sample_at(when: float, collector: psutil.Process) -> tuple[float, int]:
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    cpu = collector.cpu_times()
    return cpu.user + cpu.system, collector.memory_info().rss


def _good_process(cred: tuple[str, bytes, bytes], ca: bytes, address: str, until: float, out: Any) -> None:
    """The good agent, in a process of its own so the fleet's and the attacker's client work never delays it."""

    async def run() -> list[tuple[float, float]]:
        agent = Agent(*cred, ca, address)
        await agent.heartbeat()
        await _live(agent, 0.1, until, 0, 0, spread=False)
        await agent.channel.close(None)
        return agent.beats

    out.send(asyncio.run(run()))


def _hostile_process(cred: tuple[str, bytes, bytes], ca: bytes, address: str, start: float, until: float,
                     parallel: int, out: Any) -> None:
    """The attacker, in a process of its own."""

    async def run() -> int:
        agent = Agent(*cred, ca, address)
        made = await _hostile(agent.channel, start, until, parallel)
        await agent.channel.close(None)
        return made

    out.send(asyncio.run(run()))


async def _bench(args: argparse.Namespace, creds: list[tuple[str, bytes, bytes]], ca: bytes, address: str,
                 collector: psutil.Process) -> dict[str, object]:
    fleet = [Agent(n, k, c, ca, address) for n, k, c in creds[: args.agents]]
    rss_idle = collector.memory_info().rss
    # Connect every channel (TLS handshakes) before anything is measured; failures while connecting are
    # counted apart from those during the measured phases.
    await asyncio.gather(*(a.heartbeat() for a in fleet))
    connect_errors = _merge(a.errors for a in fleet)
    for a in fleet:
        a.errors = {}
    t_quiet = time.monotonic() + args.interval  # one interval of warm-up
    t_hostile = t_quiet + args.seconds
    t_end = t_hostile + args.seconds
    ctx = mp.get_context("spawn")
    good_rx, good_tx = ctx.Pipe(duplex=False)
    bad_rx, bad_tx = ctx.Pipe(duplex=False)
    helpers = [
        ctx.Process(target=_good_process, args=(creds[args.agents], ca, address, t_end, good_tx)),
        ctx.Process(target=_hostile_process,
                    args=(creds[args.agents + 1], ca, address, t_hostile, t_end, args.stalled, bad_tx)),
    ]
    for helper in helpers:
        helper.start()
    outcome = await asyncio.gather(
        *(_live(a, args.interval, t_end, args.batch_every, args.batch_size) for a in fleet),
        _sample_at(t_quiet, collector),
        _sample_at(t_hostile, collector),
    )
    good_beats: list[tuple[float, float]] = good_rx.recv()
    made = bad_rx.recv()
    for helper in helpers:
        helper.join(30)
    (cpu0, _), (cpu1, rss) = outcome[-2], outcome[-1]  # type: ignore[misc]  # gather's last two
    quiet_beats = [x for a in fleet for x in a.latencies(t_quiet, t_hostile)]
    noisy_beats = [x for a in fleet for x in a.latencies(t_hostile, t_end)]
    batches = sum(1 for a in fleet for at in a.batches if t_quiet <= at < t_hostile)
    good_quiet, good_noisy = _window(good_beats, t_quiet, t_hostile), _window(good_beats, t_hostile, t_end)
    errors = _merge(a.errors for a in fleet)
    for a in fleet:
        await a.channel.close(None)
    hb = len(quiet_beats) / args.seconds
    cpu_pct = 100 * (cpu1 - cpu0) / args.seconds
    g_quiet, g_noisy = 1000 * percentile(good_quiet, 0.99), 1000 * percentile(good_noisy, 0.99)
    return {
        "channels": args.agents + 2,
        "heartbeats_per_s": round(hb, 1),
        "batches_per_s": round(batches / args.seconds, 1),
        "p50_heartbeat_ms": round(1000 * percentile(quiet_beats, 0.5), 2),
        "p99_heartbeat_ms": round(1000 * percentile(quiet_beats, 0.99), 2),
        "collector_cpu_pct": round(cpu_pct, 1),
        "collector_cpu_pct_per_1000_hb_s": round(cpu_pct / (hb / 1000), 1) if hb else None,
        "collector_rss_mb": round(rss / 2**20, 1),
        "rss_kb_per_channel": round((rss - rss_idle) / 1024 / (args.agents + 2), 1),
        "good_p99_ms_quiet": round(g_quiet, 2),
        "good_p99_ms_hostile": round(g_noisy, 2),
        "hostile_ratio": round(g_noisy / g_quiet, 2) if g_quiet else None,
        "fleet_p99_ms_hostile": round(1000 * percentile(noisy_beats, 0.99), 2),
        "stalled_calls_made": made,
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "connect_errors": connect_errors,
        "interval_s": args.interval,
        "cores": os.cpu_count(),
    }


def main() -> None:
    """Run the fleet benchmark and print the final JSON line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=2000)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between one agent's heartbeats")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each measured phase")
    p.add_argument("--batch-every", type=int, default=3, help="a batch every N heartbeats")
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--stalled", type=int, default=64, help="stalled calls the hostile client keeps open")
    args = p.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # two sockets per channel, both ends here
    with tempfile.TemporaryDirectory(prefix="cg-fleet-") as tmp:
        work = Path(tmp)
        creds = _setup(work, args.agents)
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "collector", "serve", "--data-dir", str(work), "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("fleet: the collector did not start") from None
                    time.sleep(0.1)
            ca = (work / "pki" / "ca.pem").read_bytes()
            result = asyncio.run(_bench(args, creds, ca, f"127.0.0.1:{port}", psutil.Process(proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
