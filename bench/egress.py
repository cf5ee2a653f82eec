"""Egress benchmark: what issue 3 asks to be measured, on real files and real watchers.

- close -> outbox latency: 1,000 small case files written one by one into a watched personal
  folder; from each file's close to its case_file_egress event committed in a real outbox
  (SQLite, synchronous=FULL), through the real EgressPipeline (watcher, classifier, index).
- classification throughput (MB/s) over a mixed corpus, text scanning MB/s, and the
  classifier's SHA-256 speed as a ratio to plain hashlib on the same bytes (bench/classify.py).
- indexing a protected store of 100,000 files with the real analyser: time and peak RSS of a
  fresh process doing only that.
- files lost in a 20,000-file burst into a watched folder (watcher alone, every file counted).

Prints a final JSON line. Targets: p99 <= 100 ms; text scanning >= 40 MB/s; hashing ratio >= 0.8;
100k-file index <= 60 s and <= 100 MB; 0 lost.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.classify import InMemoryLookup, analyse_protected  # noqa: E402
from agent.config import parse_config  # noqa: E402
from agent.egress.model import DESTINATION_CLASS_PERSONAL_FOLDER, Destination  # noqa: E402
from agent.egress.watcher import EgressWatcher  # noqa: E402
from agent.egress_pipeline import EgressPipeline  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from bench import classify as classify_bench  # noqa: E402
from bench.stats import percentile  # noqa: E402
from tests.unit.classify.synthetic import nhs_number  # noqa: E402

KEY = b"0123456789abcdef0123456789abcdef"


def _note(i: int) -> bytes:
    nhs = nhs_number(random.Random(i))  # a valid 999-range test number (mod-11 check digit)
    return (f"Case note {i}. Child protection strategy meeting for the child; date of birth 01/02/2015; "
            f"NHS number {nhs}. The social worker will update the care plan.\n").encode()


class _TimedSink:
    """Commits to a real outbox and notes when each event's commit returned."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.committed: dict[str, float] = {}
        self.lock = threading.Lock()

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        self.outbox.append(kind, body)
        now = time.monotonic()
        if kind == "case_file_egress":
            with self.lock:
                self.committed[str(body["file"]["sha256_hmac"])] = now


def latency(work: Path, files: int) -> tuple[float, float, int]:
    personal = work / "personal"
    personal.mkdir()
    key_file = work / "org.key"
    key_file.write_bytes(KEY)
    config = parse_config(
        {"state_dir": str(work / "state"),
         "collector": {"address": "127.0.0.1:1", "ca": "x", "cert": "x", "key": "x"},
         "egress": {"personal_dirs": [str(personal)]},
         "privacy": {"org_key_file": str(key_file)}},
        base_dir=work,
    )
    outbox = Outbox(work / "outbox.sqlite3", encode=lambda e: json.dumps(
        {"k": e.kind, "b": dict(e.body)}, default=str).encode())
    sink = _TimedSink(outbox)
    pipeline = EgressPipeline(config, sink, KEY)
    pipeline.start()
    time.sleep(1.5)
    closed: dict[str, float] = {}
    for i in range(files):
        data = _note(i) + f"ref {i}\n".encode()
        digest = hmac.new(KEY, hashlib.sha256(data).hexdigest().encode(), hashlib.sha256).hexdigest()
        with open(personal / f"note-{i:04d}.txt", "wb") as f:
            f.write(data)
        closed[digest] = time.monotonic()
        time.sleep(0.005)
    deadline = time.monotonic() + 60
    while len(sink.committed) < files and time.monotonic() < deadline:
        time.sleep(0.05)
    pipeline.stop()
    outbox.close()
    lat = [(sink.committed[d] - t) * 1000 for d, t in closed.items() if d in sink.committed]
    return percentile(lat, 0.5), percentile(lat, 0.99), files - len(lat)


def burst_lost(work: Path, files: int) -> int:
    target = work / "burst-target"
    target.mkdir()
    seen: set[str] = set()
    lock = threading.Lock()

    def ready(dest: Destination, path: Path, arrival: str, burst: str) -> None:
        with lock:
            seen.add(path.name)

    watcher = EgressWatcher(ready, lambda *a: None, settle_s=1.0)
    watcher.start()
    watcher.add(Destination(target, DESTINATION_CLASS_PERSONAL_FOLDER, "configured"))
    time.sleep(0.5)
    staging = work / "burst-staging"
    staging.mkdir()
    for i in range(files):
        (staging / f"f{i:05d}.txt").write_bytes(b"x")
    shutil.copytree(staging, target / "copy")
    deadline = time.monotonic() + 120
    while len(seen) < files and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    watcher.stop()
    return files - len(seen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--latency-files", type=int, default=1000)
    ap.add_argument("--index-files", type=int, default=100_000)
    ap.add_argument("--burst-files", type=int, default=20_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one warning per case file would drown the figures
    with tempfile.TemporaryDirectory(prefix="cg-bench-egress-") as tmp:
        work = Path(tmp)
        (work / "lat").mkdir()
        p50, p99, missed = latency(work / "lat", args.latency_files)
        print(f"close->outbox: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {missed} missed", flush=True)

        (work / "corpus").mkdir()
        corpus = classify_bench.build_corpus(work / "corpus", 90, 11)
        lookup = InMemoryLookup()
        for path in corpus[::6]:
            lookup.add(path.name, analyse_protected(path))
        scan = classify_bench.text_scan(11, 8)
        mbps, _ = classify_bench.classify_all(corpus, lookup)
        big = []
        for i in range(2):  # as bench/classify.py: large files show hashing speed, not per-file overhead
            path = work / f"big{i}.bin"
            path.write_bytes(random.Random(i).randbytes(48 << 20))
            big.append(path)
        ratio, _ = classify_bench.hash_ratio(corpus + big)
        print(f"classify {mbps:.1f} MB/s, text scan {scan:.1f} MB/s, sha256 ratio {ratio:.2f}", flush=True)

        lost = burst_lost(work, args.burst_files)
        print(f"burst: {lost} of {args.burst_files} lost", flush=True)

        idx_dir = work / "index"
        idx_dir.mkdir()
        # A separate, lean process: its peak RSS is the index's, not this script's imports.
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "index_store.py"), str(idx_dir),
                              str(args.index_files)], capture_output=True, text=True, check=True).stdout
        index = json.loads(out.strip().splitlines()[-1])
        print(f"index: {index['indexed']} files in {index['seconds']:.1f} s, peak RSS {index['peak_rss_mb']:.0f} MB",
              flush=True)
    print(json.dumps({
        "close_to_outbox_p50_ms": round(p50, 2),
        "close_to_outbox_p99_ms": round(p99, 2),
        "latency_files": args.latency_files,
        "latency_missed": missed,
        "classify_mb_per_s": round(mbps, 2),
        "text_scan_mb_per_s": round(scan, 1),
        "sha256_ratio_vs_hashlib": round(ratio, 3),
        "index_100k_seconds": round(index["seconds"], 1),
        "index_100k_peak_rss_mb": round(index["peak_rss_mb"], 1),
        "index_files": index["indexed"],
        "burst_files": args.burst_files,
        "burst_lost": lost,
    }))


if __name__ == "__main__":
    main()
