"""The console's body limit holds for chunked uploads too (a real `serve --console` process)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.integration.harness import Collector, free_port, wait_for

pytestmark = pytest.mark.integration

CHUNK = b"x" * (1 << 20)


def _chunked(mib: int) -> Iterator[bytes]:
    for _ in range(mib):
        yield CHUNK


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_chunked_posts_past_the_limit_are_refused_and_memory_stays_bounded(collector: Collector) -> None:
    port = free_port()
    collector.start("--console", f"127.0.0.1:{port}", "--console-plain-http")
    assert collector.proc is not None
    proc = psutil.Process(collector.proc.pid)
    url = f"http://127.0.0.1:{port}/login"
    wait_for(lambda: _up(url), 20, "the console")
    before = proc.memory_info().rss
    statuses: list[int] = []
    peak = [before]

    def upload() -> None:
        try:
            reply = httpx.post(url, content=_chunked(50), headers={"content-type": "application/x-www-form-urlencoded"},
                               timeout=60)
            statuses.append(reply.status_code)
        except httpx.HTTPError:
            statuses.append(0)  # the server may close the connection while we are still sending

    threads = [threading.Thread(target=upload) for _ in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak.append(proc.memory_info().rss)
        threads[0].join(0.05)
    for t in threads:
        t.join()
    assert statuses and all(s in (413, 0) for s in statuses) and 413 in statuses, statuses
    assert max(peak) - before < 64 * 1024 * 1024, f"RSS grew by {(max(peak) - before) >> 20} MiB"
    # Still serving.
    assert httpx.get(url, timeout=10).status_code == 200
