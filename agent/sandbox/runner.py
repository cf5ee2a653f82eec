"""Run ``HeavyJob``s in a small pool of confined, long-lived worker processes, with a wall-clock
deadline per job enforced by killing the worker.

A worker is started on first need (an idle agent carries none), confines itself once (its own session,
an address-space limit, no network) and then serves job after job, its CPU limit reset for each.
Starting one costs about 0.3 s; reusing it costs a pipe round trip. A worker left idle for
``idle_exit_s`` ends itself, so the memory a burst of PDFs took is given back when the burst is over
(the agent keeps no thread for it). A worker is replaced when it overran a deadline (killed), died, ran
out of memory, grew past ``recycle_rss_bytes`` or served ``recycle_after_jobs`` jobs. Linux starts
workers from a fork server that has already imported the parsers (no agent thread is ever forked, and
the agent never imports pdfium or Pillow); macOS and Windows spawn a fresh interpreter. Whatever happens
in a worker (a hang, a crash, an allocation past its limit) comes back as a ``HeavyResult`` with an
error reason and the text read until then; nothing raises into the agent.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext
from types import MappingProxyType
from typing import Any

from agent.sandbox import confine
from agent.sandbox.entry import worker_main
from agent.sandbox.job import HeavyJob, HeavyResult

log = logging.getLogger(__name__)

# Starting a worker, on top of the job's own deadline.
START_GRACE_S = 2.0
WORKERS = 2
RECYCLE_AFTER_JOBS = 500
IDLE_EXIT_S = 60.0
_IDLE_MARGIN = 0.25  # a worker within this share of idle_exit_s (at most 1 s) of ending itself gets no job
_ENDED_IDLE = "ended-idle"  # internal: never returned to the classifier
RECYCLE_RSS_BYTES = 200 * 1024 * 1024
_JOIN_S = 5.0
_RETIRE_S = 1.0


def _default_context() -> BaseContext:
    if sys.platform == "linux":
        ctx = multiprocessing.get_context("forkserver")
        # "__main__" too: each worker otherwise re-imports the agent's entry module and all it imports.
        # The readers too: the agent process never imports them itself, the forkserver does once.
        ctx.set_forkserver_preload(["__main__", "agent.sandbox.worker", "agent.sandbox.pdf", "agent.sandbox.images"])
        return ctx
    return multiprocessing.get_context("spawn")


class _Worker:
    """One started worker process and the parent's end of its pipe."""

    def __init__(self, ctx: BaseContext, memory_bytes: int, tesseract: str | None, idle_exit_s: float) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: Any = ctx.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(child, memory_bytes, tesseract, idle_exit_s), daemon=True
        )
        self.memory_bytes = memory_bytes
        self.jobs = 0
        self.idle_since = 0.0
        self.isolation = ""
        self.peak_rss = 0
        self.ended = False
        try:
            self.process.start()
        finally:
            child.close()

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def kill(self) -> None:
        """Kill it and everything it started, and reap it."""
        if self.ended:
            return
        self.ended = True
        if self.process.pid is not None:
            confine.kill_tree(self.process.pid)
        self.process.join(_JOIN_S)
        self.conn.close()

    def retire(self) -> None:
        """Ask it to exit (killed if it does not at once)."""
        if self.ended:
            return
        if self.process.exitcode == 0:  # it ended itself, idle: its pid may belong to another process by now
            self.ended = True
            self.conn.close()
            return
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(_RETIRE_S)
        self.kill()


class Sandbox:
    """A ``HeavyReader`` that runs jobs in up to ``workers`` confined worker processes. Thread-safe.

    ``tesseract_command`` is the Tesseract program (PATH when None); ``start_grace_s`` the time a worker
    may take to start on top of a job's deadline; a worker is replaced after ``recycle_after_jobs``
    jobs, or once its peak memory passed ``recycle_rss_bytes``; a worker ends itself after ``idle_exit_s``
    without a job. ``close`` ends the workers.
    """

    def __init__(
        self,
        *,
        tesseract_command: str | None = None,
        context: BaseContext | None = None,
        start_grace_s: float = START_GRACE_S,
        workers: int = WORKERS,
        recycle_after_jobs: int = RECYCLE_AFTER_JOBS,
        recycle_rss_bytes: int = RECYCLE_RSS_BYTES,
        idle_exit_s: float = IDLE_EXIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tesseract = tesseract_command
        self._ctx = context or _default_context()
        self._grace = start_grace_s
        self._clock = clock
        self.workers = workers
        self.recycle_after_jobs = recycle_after_jobs
        self.recycle_rss_bytes = recycle_rss_bytes
        self.idle_exit_s = idle_exit_s
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._warned: set[str] = set()
        self._failed = False  # a worker died unexpectedly and none has started since
        self.peak_rss_bytes = 0
        """The most memory any worker (or a program it ran, such as tesseract) has held."""

    def configure(self, *, workers: int, recycle_after_jobs: int) -> None:
        """Change the pool's size and recycling (idle workers past the new size are ended)."""
        with self._cond:
            self.workers, self.recycle_after_jobs = workers, recycle_after_jobs
            extra = self._idle[max(0, workers - self._busy):]
            del self._idle[max(0, workers - self._busy):]
            self._cond.notify_all()
        for worker in extra:
            worker.retire()

    def worker_pids(self) -> list[int]:
        """Process ids of the idle workers still running (for tests and diagnostics)."""
        with self._cond:
            return [w.process.pid for w in self._idle if w.alive()]

    def close(self) -> None:
        """End the idle workers; busy ones end when their job does not come back to the pool."""
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.retire()

    def __call__(self, job: HeavyJob) -> HeavyResult:
        """Read ``job`` in a worker; never raises for anything about the document."""
        # A worker that ended itself, idle, just as the job was sent leaves the pool and the job goes to
        # another: each time one fewer idle worker is left, and a new worker never ends that way.
        while True:
            worker = self._acquire(job.memory_bytes)
            keep = False
            try:
                if worker is None:
                    return HeavyResult(error="extract-failed")
                result, keep = self._run(worker, job)
                if result.error == _ENDED_IDLE:
                    continue
                self._report(job, result.error, worker.isolation)
                return result
            finally:
                self._release(worker, keep)

    def _acquire(self, memory_bytes: int) -> _Worker | None:
        """An idle worker with ``memory_bytes`` of address space, or a new one (None if none starts)."""
        stale: list[_Worker] = []
        try:
            with self._cond:
                while True:
                    while self._idle:
                        worker = self._idle.pop()
                        idle_s = self._clock() - worker.idle_since
                        fresh = idle_s < self.idle_exit_s - min(1.0, self.idle_exit_s * _IDLE_MARGIN)
                        if worker.memory_bytes == memory_bytes and fresh and worker.alive():
                            self._busy += 1
                            return worker
                        stale.append(worker)
                    if self._busy < self.workers:
                        self._busy += 1
                        break
                    self._cond.wait()
        finally:
            for worker in stale:
                if not worker.alive() and worker.process.exitcode != 0:  # 0: it ended itself, idle
                    self._died(worker.process.exitcode, "while idle")
                worker.retire()
        try:
            worker = _Worker(self._ctx, memory_bytes, self._tesseract, self.idle_exit_s)
        except OSError as exc:
            log.warning("extraction worker could not be started (%s); PDFs and images are reported unjudged",
                        type(exc).__name__)
            self._failed = True
            return None
        if self._failed:
            self._failed = False
            log.warning("extraction worker running again")
        return worker

    def _release(self, worker: _Worker | None, keep: bool) -> None:
        if worker is not None and not keep:
            worker.retire()
        with self._cond:
            self._busy -= 1
            if worker is not None and keep:
                worker.idle_since = self._clock()
                self._idle.append(worker)
            self._cond.notify()

    def _run(self, worker: _Worker, job: HeavyJob) -> tuple[HeavyResult, bool]:
        """The job's result, and whether ``worker`` may serve another job."""
        pages: list[str] = []
        properties: dict[str, str] = {}
        error: str | None = None
        ocr_s = 0.0
        done = False
        deadline = self._clock() + job.deadline_s + self._grace
        conn = worker.conn
        try:
            conn.send((job, job.deadline_s + self._grace))
            while not done:
                left = deadline - self._clock()
                if left <= 0 or not conn.poll(left):
                    error = "timeout"
                    break
                kind, value = conn.recv()
                if kind == "page":
                    pages.append(value)
                elif kind == "properties":
                    properties = dict(value)
                elif kind == "ocr_s":
                    ocr_s = float(value)
                elif kind == "isolation":
                    worker.isolation = value
                elif kind == "stop":
                    error = value
                elif kind == "done":
                    done = True
                    worker.peak_rss = int(value)
        except (EOFError, OSError):  # the worker died: its exit status says why
            pass
        worker.jobs += 1
        with self._cond:
            self.peak_rss_bytes = max(self.peak_rss_bytes, worker.peak_rss)
        if not done:
            worker.kill()
            if error is None and worker.process.exitcode == 0 and worker.jobs > 1:
                error = _ENDED_IDLE  # not a crash: it had waited idle and ended as the job was sent
            elif error is None:
                error = "over-budget" if confine.over_limit(worker.process.exitcode) else "extract-failed"
                if error == "extract-failed":
                    self._died(worker.process.exitcode, f"reading a {job.kind} file")
        keep = (
            done and error != "over-budget"  # a MemoryError may leave the heap in pieces: start afresh
            and worker.jobs < self.recycle_after_jobs and worker.peak_rss <= self.recycle_rss_bytes
        )
        return HeavyResult(tuple(pages), MappingProxyType(properties), error, ocr_s), keep

    def _died(self, exitcode: int | None, when: str) -> None:
        """Loud: a worker ended that nobody ended; the next job starts a new one (which says so)."""
        log.warning("extraction worker exited unexpectedly %s (exit code %s); a new one starts for the next "
                    "PDF or image", when, exitcode)
        self._failed = True

    def _report(self, job: HeavyJob, error: str | None, isolation: str) -> None:
        """Loud, once per kind of trouble: no file names or contents, only the kind of file and reason."""
        if error in ("timeout", "over-budget"):
            log.warning("extraction worker stopped (%s) for a %s file; it is reported unjudged", error, job.kind)
        once = None
        if error == "ocr-unavailable":
            once = ("ocr-unavailable", "OCR is unavailable (tesseract not found): images and scanned PDF "
                    "pages are reported unjudged (reason ocr-unavailable)")
        elif isolation == "rlimits":
            once = ("no-netns", "extraction worker runs with memory and CPU limits but not without network "
                    "(the kernel refused a network namespace)")
        if once is None:
            return
        with self._cond:
            if once[0] in self._warned:
                return
            self._warned.add(once[0])
        log.warning("%s", once[1])
