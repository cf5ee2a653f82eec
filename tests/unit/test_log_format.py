"""The JSON log formatter: one object a line, extra fields kept, privacy filtering respected."""

from __future__ import annotations

import io
import json
import logging

from agent.log_privacy import PrivacyFilter
from caseguard.log_format import JsonFormatter


def _logged(name: str, emit: object, *, private: bool = False) -> dict[str, object]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    if private:
        handler.addFilter(PrivacyFilter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    return dict(json.loads(lines[0]))


def test_a_record_is_one_object_with_its_extra_fields() -> None:
    got = _logged("collector.test", lambda log: log.warning("stored %d events", 3, extra={"device": "laptop-1"}))
    assert got["level"] == "WARNING" and got["logger"] == "collector.test" and got["message"] == "stored 3 events"
    assert got["device"] == "laptop-1" and str(got["time"]).endswith("+00:00")


def test_an_exception_stays_on_one_line() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            log.exception("failed")

    got = _logged("collector.test", emit)
    assert "ValueError: bad\nvalue" in str(got["exception"])


def test_the_privacy_filter_still_withholds_a_library_message() -> None:
    got = _logged("watchdog.observers", lambda log: log.warning("cannot watch /home/x/Child A.docx"), private=True)
    assert "Child A" not in json.dumps(got) and "withheld" in str(got["message"])
