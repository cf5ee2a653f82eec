"""Log records as one JSON object per line (``[logging] format = "json"``), for log collectors.

Each line holds ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, then any extra
fields the record carries (``log.info(..., extra={...})``), and ``exception`` when there is one.
The formatter only shapes what the handler's filters let through: privacy filters run first,
so a withheld message or a redacted traceback stays withheld in JSON too.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record is an extra field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (non-JSON extra values are written as their text)."""
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter_for(log_format: str, text_format: str) -> logging.Formatter:
    """The formatter for ``[logging] format``: "json", or "text" with ``text_format``."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(text_format)
