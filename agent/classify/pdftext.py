"""The text layer and info dictionary of PDF files, page by page, via pypdf."""

from __future__ import annotations

import io
import logging

from agent.classify.document import DocumentSink, first_lines, last_lines
from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.properties import MAX_PROPERTIES, MAX_VALUE_CHARS

_PAGE_EDGE_LINES = 3

# pypdf logs a warning for every robustness fix it applies (1,450 for one damaged PDF), and some quote
# raw bytes of the file: file contents must never reach our logs. Its loggers are all "pypdf.*" and
# inherit this level; a PDF pypdf cannot read still comes back as a verdict error.
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)


def read_pdf(data: bytes, sink: DocumentSink, budget: Budget) -> None:
    """Body from each page's text layer; zones from each page's first and last lines (headers, footers).

    A PDF encrypted with an empty user password (restrictions only) is read; any other is ``encrypted``.
    """
    # Imported here: pypdf is the agent's heaviest import and only PDFs need it.
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                outcome = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported or bad encryption
                raise ExtractionError("encrypted") from exc
            if outcome == PasswordType.NOT_DECRYPTED:
                raise ExtractionError("encrypted")
        _read_info(reader.metadata, sink)
        for page in reader.pages:
            budget.check_time()
            text = page.extract_text() or ""
            sink.add_body(text + "\n")
            sink.add_edge(first_lines(text, _PAGE_EDGE_LINES) + last_lines(text, _PAGE_EDGE_LINES))
    except ExtractionError:
        raise
    except Exception as exc:  # pypdf on hostile input can raise nearly anything; nothing may escape
        raise ExtractionError(_broken_reason(data)) from exc


def _read_info(info: object, sink: DocumentSink) -> None:
    """Info-dictionary entries (Office writes sensitivity-label properties here when saving as PDF)."""
    if not isinstance(info, dict):
        return
    for key, value in list(info.items())[:MAX_PROPERTIES]:
        name = str(key).lstrip("/")[:MAX_VALUE_CHARS]
        sink.properties[name] = str(value)[:MAX_VALUE_CHARS]


def _broken_reason(data: bytes) -> str:
    return "corrupt" if b"%%EOF" in data[-2048:] else "truncated"
