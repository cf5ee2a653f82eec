"""Where a worker process starts: a module that imports nothing, so naming it as the process target
does not load the parsers (pdfium, Pillow) into the agent. The worker imports them itself (on Linux the
fork server has them already)."""

from __future__ import annotations

from multiprocessing.connection import Connection


def worker_main(conn: Connection, memory_bytes: int, tesseract_command: str | None, idle_exit_s: float) -> None:
    """Run the extraction worker (``agent.sandbox.worker.serve``) on ``conn``."""
    from agent.sandbox.worker import serve

    serve(conn, memory_bytes, tesseract_command, idle_exit_s)
