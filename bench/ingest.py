"""Ingest throughput: simulated agents -> collector over mTLS on loopback, durably stored.

Runs the same load twice in one run: against the real collector (SQLite, WAL,
synchronous=FULL, group commit) and against a no-op servicer that stores nothing, so
the ratio says what durability costs on this (noisy, shared) machine.

Then the same load against PostgreSQL (--database-url, or a throwaway server this script
starts), through one collector and through two collector processes sharing the database
(the agents split between them).

Prints a final JSON line:
{"events_per_s", "noop_events_per_s", "ratio", "p99_batch_ms",
 "postgres_events_per_s", "postgres_two_collectors_events_per_s", ...}
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


def _register_in_postgres(url: str, agents: int, work: Path) -> None:
    from collector.pki import fingerprint_of_pem
    from collector.store.events import PostgresStore

    pg = PostgresStore(url, require_current_schema=False)
    pg.migrate()
    for i in range(agents):
        pg.register_device(f"bench-{i}", fingerprint_of_pem((work / f"agent-{i}" / "device.pem").read_bytes()), 1)
    pg.close()


def _setup(work: Path, agents: int) -> list[Path]:
    from collector.pki import PkiPaths, init_pki, issue_device_certificate, write_device_bundle
    from collector.store.events import SQLiteStore

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
    from collector.store.events import SQLiteStore

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


def _run_load(cert_dirs: list[Path], address: str | list[str], batches: int, batch_size: int) -> tuple[float, float]:
    addresses = [address] if isinstance(address, str) else address
    ctx = mp.get_context("fork")
    q: mp.Queue[tuple[float, float, list[float]]] = ctx.Queue()
    start_at = time.time() + 2.0
    procs = [ctx.Process(target=_agent, args=(str(d), addresses[i % len(addresses)], f"bench-{i}", batches,
                                              batch_size, start_at, q))
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
    ap.add_argument("--database-url", help="postgresql:// of an EMPTY database (default: start a throwaway server)")
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
        db.close()
        expected = args.agents * args.batches * args.batch_size
        if stored != expected:
            raise SystemExit(f"stored {stored} events, expected {expected}")
        print(f"sqlite: {rate:.0f} events/s (noop {noop_rate:.0f})", flush=True)

        pg_one, pg_two, pg_p99 = _postgres_runs(args, work, cert_dirs, expected)
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
        "postgres_events_per_s": round(pg_one),
        "postgres_p99_batch_ms": round(pg_p99, 2),
        "postgres_two_collectors_events_per_s": round(pg_two),
        "two_vs_one_collector_ratio": round(pg_two / pg_one, 3),
        "cores": os.cpu_count(),
    }))


def _postgres_runs(args: argparse.Namespace, work: Path, cert_dirs: list[Path], expected: int
                   ) -> tuple[float, float, float]:
    """(one collector events/s, two collectors events/s, one collector p99 ms) on PostgreSQL."""
    import psycopg

    from tests.postgres_server import PostgresServer, create_database

    server = None
    base = args.database_url
    if base is None:
        server = PostgresServer()
        server_url = server.start()
    try:
        rates = []
        p99_one = 0.0
        for collectors in (1, 2):
            url = base if (base and collectors == 1) else create_database(base or server_url)
            _register_in_postgres(url, len(cert_dirs), work)
            ports = [_free_port() for _ in range(collectors)]
            procs = [_start([sys.executable, "-m", "collector", "serve", "--data-dir", str(work), "--database-url",
                             url, "--listen", f"127.0.0.1:{p}"], p) for p in ports]
            rate, p99 = _run_load(cert_dirs, [f"127.0.0.1:{p}" for p in ports], args.batches, args.batch_size)
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
            with psycopg.connect(url) as db:
                row = db.execute("SELECT COUNT(*) FROM events").fetchone()
                stored = row[0] if row else 0
            if stored != expected:
                raise SystemExit(f"postgres ({collectors} collectors): stored {stored}, expected {expected}")
            print(f"postgres, {collectors} collector(s): {rate:.0f} events/s", flush=True)
            rates.append(rate)
            if collectors == 1:
                p99_one = p99
        return rates[0], rates[1], p99_one
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
