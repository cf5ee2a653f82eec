"""Run one ``HeavyJob`` in a confined worker process with a wall-clock deadline enforced by killing it.

Linux uses a fork server that has already imported the parsers (a worker starts in milliseconds and
no agent thread is ever forked); macOS and Windows spawn a fresh interpreter. Whatever happens in the
worker (a hang, a crash, an allocation past its limit) comes back as a ``HeavyResult`` with an
error reason and the text read until then; nothing raises into the agent.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext
from types import MappingProxyType

from agent.sandbox import confine
from agent.sandbox.job import HeavyJob, HeavyResult
from agent.sandbox.worker import child_main

log = logging.getLogger(__name__)

# Starting the worker and importing nothing more, on top of the job's own deadline.
START_GRACE_S = 2.0
_JOIN_S = 5.0


def _default_context() -> BaseContext:
    if sys.platform == "linux":
        ctx = multiprocessing.get_context("forkserver")
        # "__main__" too: each worker otherwise re-imports the agent's entry module and all it imports.
        # The readers too: the agent process never imports them itself, the forkserver does once.
        ctx.set_forkserver_preload(["__main__", "agent.sandbox.worker", "agent.sandbox.pdf", "agent.sandbox.images"])
        return ctx
    return multiprocessing.get_context("spawn")


class Sandbox:
    """A ``HeavyReader`` that runs each job in its own confined worker process. Thread-safe.

    ``tesseract_command`` is the Tesseract program (PATH when None); ``start_grace_s`` the time a worker
    may take to start on top of the job's deadline.
    """

    def __init__(
        self,
        *,
        tesseract_command: str | None = None,
        context: BaseContext | None = None,
        start_grace_s: float = START_GRACE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tesseract = tesseract_command
        self._ctx = context or _default_context()
        self._grace = start_grace_s
        self._clock = clock
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def __call__(self, job: HeavyJob) -> HeavyResult:
        """Read ``job`` in a worker; never raises for anything about the document."""
        pages: list[str] = []
        properties: dict[str, str] = {}
        error: str | None = None
        ocr_s = 0.0
        done = False
        isolation = ""
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=child_main, args=(sender, job, self._tesseract, job.deadline_s + self._grace), daemon=True
        )
        deadline = self._clock() + job.deadline_s + self._grace
        try:
            process.start()
            sender.close()
            while not done:
                left = deadline - self._clock()
                if left <= 0 or not receiver.poll(left):
                    error = "timeout"
                    break
                kind, value = receiver.recv()
                if kind == "page":
                    pages.append(value)
                elif kind == "properties":
                    properties = dict(value)
                elif kind == "ocr_s":
                    ocr_s = float(value)
                elif kind == "isolation":
                    isolation = value
                elif kind == "stop":
                    error = value
                elif kind == "done":
                    done = True
        except (EOFError, OSError):  # the worker died: its exit status says why
            pass
        finally:
            if not done and process.pid is not None:
                confine.kill_tree(process.pid)
            process.join(_JOIN_S)
            receiver.close()
            sender.close()
        if not done and error is None:
            error = "over-budget" if confine.over_limit(process.exitcode) else "extract-failed"
        self._report(job, error, isolation)
        return HeavyResult(tuple(pages), MappingProxyType(properties), error, ocr_s)

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
        with self._lock:
            if once[0] in self._warned:
                return
            self._warned.add(once[0])
        log.warning("%s", once[1])
