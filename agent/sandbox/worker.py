"""The extraction worker: a confined process serving ``HeavyJob`` after job, streaming pieces back.

``read_job`` is the pure part (bytes in, pieces of text out) and can be run in-process by a test;
``serve`` is what runs in the worker process (started through ``agent.sandbox.entry``). The
readers (pypdf, pypdfium2, Pillow, pytesseract) are imported only in the worker: the agent
process itself never loads them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection

from agent.sandbox import confine
from agent.sandbox.job import HeavyJob
from agent.sandbox.pieces import Piece, Stop

# Tesseract's own thread pool would compete with the agent on a two-core laptop; one thread per image.
TESSERACT_ENV = {"OMP_THREAD_LIMIT": "1"}


def read_job(job: HeavyJob, tesseract_command: str | None = None) -> Iterator[Piece]:
    """Every piece of ``job``, ending with ``("stop", reason)`` when reading ended early; never raises
    for anything about the document."""
    from agent.sandbox.images import read_image
    from agent.sandbox.ocr import Tesseract
    from agent.sandbox.pdf import read_pdf

    ocr = Tesseract(tesseract_command) if job.ocr else None
    try:
        if job.kind == "image":
            if ocr is None:
                raise Stop("ocr-off")
            ocr.check()
            yield from read_image(job, ocr)
        else:
            yield from read_pdf(job, ocr)
    except Stop as exc:
        yield ("stop", exc.reason)
    except MemoryError:
        yield ("stop", "over-budget")
    except RecursionError:
        yield ("stop", "corrupt")
    except Exception:  # the boundary: hostile input reaching a library path nobody anticipated
        yield ("stop", "extract-failed")


def serve(conn: Connection, memory_bytes: int, tesseract_command: str | None, idle_exit_s: float) -> None:
    """Confine this process for good, then read each ``(job, cpu_s)`` sent through ``conn`` until it
    closes (or sends None), or none comes for ``idle_exit_s``: every piece of the job, then
    ``("done", peak RSS bytes)``. Ending idle exits with status 0, which the pool knows from a crash.

    ``cpu_s`` is each job's CPU backstop: the parent's wall-clock kill normally comes first.
    """
    logging.disable(logging.CRITICAL)  # nothing read from a file may reach a log, even by accident
    os.environ.update(TESSERACT_ENV)
    conn.send(("isolation", confine.confine_self(memory_bytes)))
    while True:
        try:
            if not conn.poll(idle_exit_s):
                break  # idle: give the memory back; the pool starts a fresh worker for the next file
            request = conn.recv()
        except (EOFError, OSError):  # the agent has gone
            break
        if request is None:
            break
        job, cpu_s = request
        confine.limit_cpu(cpu_s)
        for piece in read_job(job, tesseract_command):
            conn.send(piece)
        conn.send(("done", confine.peak_rss_bytes()))
    conn.close()
