"""Index a protected store of N small files with the real analyser, in a process that imports
only what the agent's index needs; prints one JSON line with the time and peak RSS.

Used by bench/egress.py (which runs it as a separate process); runnable on its own:
    python bench/index_store.py WORK_DIR [FILES]
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.classify import analyse_protected  # noqa: E402
from agent.protected.index import ProtectedIndex  # noqa: E402

KEY = b"0123456789abcdef0123456789abcdef"


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that across exec from the
    parent that forked us, so a child of a large benchmark would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def build_store(store: Path, files: int) -> None:
    """``files`` small text documents of 40 random words, 1,000 to a folder."""
    rng = random.Random(1)
    words = [f"w{n}" for n in range(5000)]
    for i in range(files):
        folder = store / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        (folder / f"doc{i:06d}.txt").write_text(" ".join(rng.choice(words) for _ in range(40)) + f" {i}\n")


def main() -> None:
    work = Path(sys.argv[1])
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    build_store(work / "store", files)
    before = peak_rss_mb()
    index = ProtectedIndex(work / "state", [work / "store"], KEY, analyse_protected)
    t0 = time.perf_counter()
    index.reconcile()
    took = time.perf_counter() - t0
    count = index.count()
    index.close()
    peak = peak_rss_mb()
    print(json.dumps({"seconds": round(took, 2), "peak_rss_mb": round(peak, 1), "rss_before_index_mb": round(before, 1),
                      "indexed": count}))


if __name__ == "__main__":
    main()
