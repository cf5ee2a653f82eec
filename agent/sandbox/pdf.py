"""PDF text, page by page, with pdfium (pypdfium2); image-only pages rendered and read by OCR.

Runs in the extraction worker. pdfium reads text layers about 13 times faster than pypdf here (see
bench/classify.py), so long bundles are read to the end within the time budget; the info dictionary
(where Office writes sensitivity-label properties) is still read with pypdf, because pdfium can only
look up keys it is told and label keys carry tenant GUIDs.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterator

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image
from pypdf import PasswordType, PdfReader

from agent.sandbox.job import HeavyJob
from agent.sandbox.ocr import Tesseract
from agent.sandbox.pieces import Piece, Stop

# pypdf logs a warning for every robustness fix it applies (1,450 for one damaged PDF), and some quote
# raw bytes of the file: file contents must never reach any log. Its loggers are all "pypdf.*".
logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)

# A page with fewer characters than this in its text layer but something drawn on it is a scan (or
# outlined text): it is rendered and read by OCR.
_SCAN_TEXT_CHARS = 8
_OCR_DPI = 300
# Info entries sent back (the classifier keeps fewer; these only bound what crosses the pipe).
_MAX_INFO_ENTRIES = 256
_MAX_INFO_CHARS = 4096


def read_pdf(
    job: HeavyJob, ocr: Tesseract | None, clock: Callable[[], float] = time.monotonic
) -> Iterator[Piece]:
    """Pieces of the PDF in ``job``: its info entries, then each page's text (OCR for scanned pages).

    A PDF encrypted with an empty user password (restrictions only) is read; any other is ``encrypted``.
    ``ocr`` is None when OCR is off: scanned pages then end the document with ``ocr-off``.
    """
    start = clock()
    yield ("properties", _info(job.data))
    try:
        pdf = pdfium.PdfDocument(job.data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise Stop("encrypted") from exc
        raise Stop(_broken_reason(job.data)) from exc
    ocr_s = 0.0
    ocr_pages = 0
    unread: str | None = None
    chars = 0
    try:
        for index in range(len(pdf)):
            if clock() - start - ocr_s > job.time_s:
                raise Stop("time-budget")
            page = pdf[index]
            text = page.get_textpage().get_text_range().replace("\r\n", "\n")
            if len(text.strip()) < _SCAN_TEXT_CHARS and pdfium_c.FPDFPage_CountObjects(page.raw) > 0:
                if ocr is None:
                    unread = unread or "ocr-off"
                elif ocr_pages >= job.max_ocr_pages:
                    unread = unread or "ocr-page-limit"
                else:
                    ocr_pages += 1
                    began = clock()
                    text += "\n" + ocr.text(_render(page, job.max_ocr_pixels), job.max_ocr_pixels,
                                            job.ocr_time_s - ocr_s)
                    ocr_s += clock() - began
                    yield ("ocr_s", ocr_s)
            chars += len(text)
            yield ("page", text)
            if chars > job.max_chars:
                raise Stop("text-limit")
    except pdfium.PdfiumError as exc:
        raise Stop(_broken_reason(job.data)) from exc
    finally:
        pdf.close()
    if b"%%EOF" not in job.data[-2048:]:
        raise Stop("truncated")  # pdfium repairs what it can; what was cut off is unknown
    if unread is not None:
        raise Stop(unread)


def _render(page: pdfium.PdfPage, max_pixels: int) -> Image.Image:
    width, height = page.get_size()
    scale = min(_OCR_DPI / 72, (max_pixels / max(1.0, width * height)) ** 0.5)
    image: Image.Image = page.render(scale=scale, grayscale=True).to_pil()
    return image


def _info(data: bytes) -> dict[str, str]:
    """Info-dictionary entries (empty when pypdf cannot find them; pdfium decides whether the file reads)."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            return {}
        info = reader.metadata
    except Exception:  # pypdf on hostile input can raise nearly anything; the text is what matters
        return {}
    if not isinstance(info, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in list(info.items())[:_MAX_INFO_ENTRIES]:
        out[str(key).lstrip("/")[:_MAX_INFO_CHARS]] = str(value)[:_MAX_INFO_CHARS]
    return out


def _broken_reason(data: bytes) -> str:
    return "corrupt" if b"%%EOF" in data[-2048:] else "truncated"
