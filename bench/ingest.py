"""Ingest throughput: simulated agents -> collector over mTLS on loopback, durably stored.

Runs the same load twice in one run: against the real collector (SQLite, WAL,
synchronous=FULL, group commit) and against a no-op servicer that stores nothing, so
the ratio says what durability costs on this (noisy, shared) machine.

Prints a final JSON line:
{"events_per_s", "noop_events_per_s", "ratio", "p99_batch_ms", ...}
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(work: Path, agents: int) -> list[Path]:
    from collector.pki import PkiPaths, init_pki, issue_device_certificate, write_device_bundle
    from collector.store.sqlite import SQLiteStore

    paths = PkiPaths.in_data_dir(work)
    init_pki(paths, [])
    store = SQLiteStore(work / "collector.sqlite3")
    dirs = []
    for i in range(agents):
        issued = issue_device_certificate(paths, f"bench-{i}")
        store.register_device(f"bench-{i}", issued.fingerprint, 1)
        d = work / f"agent-{i}"
        write_device_bundle(d, issued, paths.ca_cert.read_bytes())
        dirs.append(d)
    store.close()
    return dirs


def _serve_noop(data_dir: str, listen: str) -> None:
    """A collector whose store authenticates devices but keeps nothing (the baseline)."""
    from collector.api.server import ServerTLS, build_server
    from collector.pki import PkiPaths
    from collector.store.base import IngestOutcome
    from collector.store.sqlite import SQLiteStore

    class NoopStore(SQLiteStore):
        def ingest(self, batches, received_at_us):
            return IngestOutcome(sum(len(e) for _, e in batches), 0, 0)

    paths = PkiPaths.in_data_dir(Path(data_dir))
    tls = ServerTLS(paths.ca_cert.read_bytes(), paths.server_cert.read_bytes(), paths.server_key.read_bytes())
    running = build_server(NoopStore(Path(data_dir) / "collector.sqlite3"), listen, tls)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    running.stop()


def _agent(cert_dir: str, address: str, device: str, batches: int, batch_size: int, start_at: float,
           out: mp.Queue[tuple[float, float, list[float]]]) -> None:
    import grpc

    from agent.ids import uuid7  # agents make time-ordered ids; the store index relies on it
    from caseguard.v1 import events_pb2

    d = Path(cert_dir)
    creds = grpc.ssl_channel_credentials((d / "ca.pem").read_bytes(), (d / "device.key").read_bytes(),
                                         (d / "device.pem").read_bytes())
    channel = grpc.secure_channel(address, creds)
    call = channel.unary_unary("/caseguard.v1.Collector/SendEvents", request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    requests: list[bytes] = []
    first_frame = b""
    seq = 0
    for _ in range(batches):  # pre-encode so the client measures the collector, not itself
        parts = []
        for _ in range(batch_size):
            seq += 1
            ev = events_pb2.Event(event_id=str(uuid7()), seq=seq, device_id=device, agent_version="bench")
            ev.occurred_at.GetCurrentTime()
            ev.test.index = seq
            ev.test.note = "synthetic benchmark event"
            b = ev.SerializeToString()
            parts.append(b"\x0a" + _varint(len(b)) + b)
        first_frame = first_frame or parts[0]
        requests.append(b"".join(parts[1:] if not requests else parts))
    call(first_frame, timeout=30)  # warm the channel (TLS handshake) with the first event
    while time.time() < start_at:
        time.sleep(0.001)
    lat = []
    t0 = time.perf_counter()
    for r in requests:
        s = time.perf_counter()
        call(r, timeout=60)
        lat.append((time.perf_counter() - s) * 1000)
    out.put((t0, time.perf_counter(), lat))
    channel.close()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _run_load(cert_dirs: list[Path], address: str, batches: int, batch_size: int) -> tuple[float, float]:
    ctx = mp.get_context("fork")
    q: mp.Queue[tuple[float, float, list[float]]] = ctx.Queue()
    start_at = time.time() + 2.0
    procs = [ctx.Process(target=_agent, args=(str(d), address, f"bench-{i}", batches, batch_size, start_at, q))
             for i, d in enumerate(cert_dirs)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    begin = min(r[0] for r in results)
    end = max(r[1] for r in results)
    lat = [x for r in results for x in r[2]]
    total = len(cert_dirs) * batches * batch_size
    return total / (end - begin), percentile(lat, 0.99)


def _start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--batches", type=int, default=100, help="batches per agent")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--serve-noop", nargs=2, metavar=("DATA_DIR", "LISTEN"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_noop:
        _serve_noop(*args.serve_noop)
        return
    with tempfile.TemporaryDirectory(prefix="caseguard-bench-") as tmp:
        work = Path(tmp)
        cert_dirs = _setup(work, args.agents)
        env_py = [sys.executable]

        port = _free_port()
        noop = _start([*env_py, __file__, "--serve-noop", str(work), f"127.0.0.1:{port}"], port)
        noop_rate, noop_p99 = _run_load(cert_dirs, f"127.0.0.1:{port}", args.batches, args.batch_size)
        noop.send_signal(signal.SIGTERM)
        noop.wait(30)

        port = _free_port()
        real = _start([*env_py, "-m", "collector", "serve", "--data-dir", str(work), "--listen",
                       f"127.0.0.1:{port}"], port)
        rate, p99 = _run_load(cert_dirs, f"127.0.0.1:{port}", args.batches, args.batch_size)
        real.send_signal(signal.SIGTERM)
        real.wait(30)

        import sqlite3

        db = sqlite3.connect(work / "collector.sqlite3")
        stored = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        sync = db.execute("PRAGMA synchronous").fetchone()[0]
        db.close()
        expected = args.agents * args.batches * args.batch_size
        if stored != expected:
            raise SystemExit(f"stored {stored} events, expected {expected}")
    print(json.dumps({
        "events_per_s": round(rate),
        "noop_events_per_s": round(noop_rate),
        "ratio": round(rate / noop_rate, 3),
        "p99_batch_ms": round(p99, 2),
        "noop_p99_batch_ms": round(noop_p99, 2),
        "agents": args.agents,
        "batch_size": args.batch_size,
        "events": expected,
        "stored_verified": stored,
        "cores": os.cpu_count(),
    }))
    del sync


if __name__ == "__main__":
    main()
