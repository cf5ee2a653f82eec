"""The privacy filter: no file name reaches a log line unless reveal_names is set."""

from __future__ import annotations

import logging
import sys

from agent.log_privacy import FORMAT, PrivacyFilter

PATH = "/home/staff/Zebedee Quartermaine/CP plan.docx"


def _render(record: logging.LogRecord, reveal: bool = False) -> str | None:
    if not PrivacyFilter(reveal).filter(record):
        return None
    return logging.Formatter(FORMAT).format(record)


def _record(name: str, level: int, msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise PermissionError(13, "Permission denied", PATH)
        except PermissionError:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_library_debug_lines_are_dropped_and_warnings_withheld() -> None:
    assert _render(_record("watchdog.observers.inotify_buffer", logging.DEBUG, "in-event %s", PATH)) is None
    line = _render(_record("pypdf._reader", logging.WARNING, "bad object in %s", PATH, exc=True))
    assert line is not None and "Zebedee" not in line and "withheld" in line and "PermissionError" in line


def test_our_tracebacks_keep_their_frames_but_not_the_message() -> None:
    line = _render(_record("agent.egress_pipeline", logging.ERROR, "egress: %s failed", "file", exc=True))
    assert line is not None and "Zebedee" not in line
    assert "PermissionError (errno 13)" in line and "test_log_privacy.py" in line


def test_reveal_names_keeps_everything() -> None:
    line = _render(_record("watchdog.observers", logging.DEBUG, "in-event %s", PATH), reveal=True)
    assert line is not None and PATH in line
