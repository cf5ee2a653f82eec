"""Logging set up so that no log line, at any level, names a file or carries its contents.

Our own modules log facts (counts, classes, reason codes), never names. Libraries are not so
careful: watchdog logs every path it sees at DEBUG, pypdf quotes document text in warnings,
exceptions quote the file they failed on. Unless the organisation opts in with
``[privacy] reveal_names = true``:

- records from other libraries below WARNING are dropped, and their warnings and errors are
  logged as "withheld" with only the logger, level and exception type;
- exceptions in our own records keep their traceback (code, not data) but lose their message
  (which may quote a path), keeping the exception type and errno;
- Python warnings are routed through logging (``py.warnings``), so they are treated the same.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from caseguard.log_format import formatter_for

OWN_LOGGERS = ("agent",)
# Chatty libraries quietened at the source too (saves building records that would be dropped).
QUIETENED = (
    "watchdog",
    "pypdf",
    "pypdfium2",
    "grpc",
    "urllib3",
    "asyncio",
    "PIL",
    "charset_normalizer",
    "h2",
    "hpack",
    "py.warnings",
    "psutil",
    "cryptography",
    "google",
    "regipy",
)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _own(name: str) -> bool:
    return any(name == own or name.startswith(own + ".") for own in OWN_LOGGERS)


class PrivacyFilter(logging.Filter):
    """Drops or withholds what might name a file (see the module docstring)."""

    def __init__(self, reveal_names: bool = False) -> None:
        super().__init__()
        self._reveal = reveal_names

    def filter(self, record: logging.LogRecord) -> bool:
        if self._reveal:
            return True
        if not _own(record.name):
            if record.levelno < logging.WARNING:
                return False
            kind = f" ({record.exc_info[0].__name__})" if record.exc_info and record.exc_info[0] else ""
            record.msg = "message withheld: it may name files ([privacy] reveal_names = true shows it)%s"
            record.args = (kind,)
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            return True
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _redacted_exception(record.exc_info[1], record.exc_info[2])
        return True


def _redacted_exception(exc: BaseException, tb: TracebackType | None) -> str:
    frames = "".join(traceback.format_list(traceback.extract_tb(tb, limit=20)))
    errno = getattr(exc, "errno", None)
    detail = f" (errno {errno})" if isinstance(errno, int) else ""
    return f"Traceback (most recent call last):\n{frames}{type(exc).__name__}{detail} [message withheld]"


def configure_logging(level: str, *, reveal_names: bool, log_format: str = "text") -> None:
    """Log to stderr at ``level`` through the privacy filter (the agent's entry points call this once),
    as text or, with ``log_format="json"``, one JSON object a line (the filter runs first either way)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format, FORMAT))
    handler.addFilter(PrivacyFilter(reveal_names))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    if not reveal_names:
        for name in QUIETENED:
            logging.getLogger(name).setLevel(logging.WARNING)
