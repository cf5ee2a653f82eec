"""Bounded extraction of one document: pick the reader by content (extension as a hint) and never raise.

Archives (zip files that are not Office or ODF documents) are reported as format ``archive`` with no
text; the classifier walks their members (see ``archive.py``).
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field

from agent.classify.archive import ArchiveMember
from agent.classify.document import DocumentSink, ExtractedDocument, first_lines, last_lines
from agent.classify.errors import ExtractionError
from agent.classify.legacy_office import is_encrypted_office, read_doc, read_ppt, read_xls
from agent.classify.limits import Budget
from agent.classify.odf import odf_kind, read_odf
from agent.classify.ole import ole_kind, open_ole, read_msg
from agent.classify.ooxml import read_docx, read_pptx, read_xlsx
from agent.classify.properties import MAX_PROPERTIES, MAX_VALUE_CHARS
from agent.classify.rtf import read_rtf
from agent.classify.textdecode import decode_text, looks_like_text
from agent.classify.zipread import find_member, open_zip
from agent.sandbox.job import HeavyJob, HeavyKind, HeavyReader

_log = logging.getLogger(__name__)

_PAGE_EDGE_LINES = 3

TEXT_EXTENSIONS = frozenset({"txt", "text", "csv", "tsv", "md", "markdown", "log"})
CONTAINER_EXTENSIONS = frozenset({"docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp"})
DOCUMENT_EXTENSIONS = CONTAINER_EXTENSIONS | {"pdf", "rtf"}


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Password-protected Office files are OLE compound files holding an "EncryptedPackage" stream.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
# ISO base media files (HEIC/HEIF photos) carry "ftyp" and a brand at offset 4.
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "tif", "tiff", "heic", "heif"})


@dataclass(frozen=True)
class Extraction:
    """The outcome of extracting one document: what was read, and why reading stopped early, if it did."""

    document: ExtractedDocument
    error: str | None = None
    attachments: tuple[ArchiveMember, ...] = field(default=())
    """Files carried inside a document (email attachments), each to be judged on its own."""

    @property
    def is_archive(self) -> bool:
        """True when the bytes are a plain archive whose members must be judged one by one."""
        return self.document.format == "archive"


def sniff_format(data: bytes, extension: str) -> str:
    """The reader family: ``zip``, ``pdf``, ``rtf``, ``ole``, ``image``, ``heif``, ``email``, ``text``,
    ``mismatch`` or ``unknown``.

    Content decides; the extension (lower case, no dot) only breaks ties and flags mismatches.
    """
    if data.startswith(_ZIP_MAGIC):
        return "zip"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.lstrip()[:5] == b"{\\rtf":
        return "rtf"
    if data.startswith(_OLE_MAGIC):
        return "ole"
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heif"
    if extension in DOCUMENT_EXTENSIONS:
        return "mismatch"
    if extension in EMAIL_EXTENSIONS and looks_like_text(data):
        return "email"
    if extension in TEXT_EXTENSIONS or looks_like_text(data):
        return "text"
    return "unknown"


def extract(data: bytes, extension: str, budget: Budget, *, complete: bool = True) -> Extraction:
    """Extract ``data`` (a file named with ``extension``) within ``budget``; never raises.

    ``complete`` is False when ``data`` is only the first part of a larger file: plain text is then
    scanned as far as it goes, containers cannot be opened, and the error is ``too-large``.
    """
    fmt = sniff_format(data, extension)
    sink = DocumentSink(fmt, budget.limits.max_text_chars)
    attachments: list[ArchiveMember] = []
    try:
        if not complete:
            if fmt in ("text", "email"):
                sink.add_body(decode_text(data))
            raise ExtractionError("too-large")
        _dispatch(fmt, data, extension, sink, budget, attachments)
    except ExtractionError as exc:
        return Extraction(sink.freeze(), exc.reason, tuple(attachments))
    except RecursionError:
        return Extraction(sink.freeze(), "corrupt", tuple(attachments))
    except Exception as exc:  # the boundary: hostile input reaching a library path nobody anticipated
        _log.warning("extraction failed unexpectedly (%s) for a %s file", type(exc).__name__, fmt)
        return Extraction(sink.freeze(), "extract-failed", tuple(attachments))
    return Extraction(sink.freeze(), None, tuple(attachments))


# Read by agent.classify.mail, imported only when an email arrives: the email package and html.parser
# are about 1.6 MB of Python heap that an idle agent (and most laptops' days) never needs.
EMAIL_EXTENSIONS = frozenset({"eml", "mbox", "mbx"})


def _dispatch(
    fmt: str, data: bytes, extension: str, sink: DocumentSink, budget: Budget, attachments: list[ArchiveMember]
) -> None:
    if fmt == "text":
        sink.add_body(decode_text(data))
    elif fmt == "email":
        from agent.classify.mail import read_email

        read_email(data, sink, budget, attachments)
    elif fmt == "pdf":
        _read_heavy("pdf", data, sink, budget)
    elif fmt == "image":
        _read_heavy("image", data, sink, budget)
    elif fmt == "heif":
        raise ExtractionError("unsupported-format")  # no HEIF decoder in the agent (Pillow lacks libheif)
    elif fmt == "rtf":
        read_rtf(data, sink, budget)
    elif fmt == "zip":
        with open_zip(data, budget) as zf:
            _read_container(zf, sink, budget)
    elif fmt == "ole":
        if _ENCRYPTED_PACKAGE in data:
            raise ExtractionError("encrypted")
        _read_ole(data, sink, budget, attachments)
    elif fmt == "mismatch":
        raise ExtractionError("format-mismatch")
    else:
        raise ExtractionError("unsupported-format")


def _read_heavy(kind: HeavyKind, data: bytes, sink: DocumentSink, budget: Budget) -> None:
    """PDFs and images are read in the sandboxed worker; its pages come back as the body."""
    limits = budget.limits
    if kind == "image" and not limits.ocr:
        raise ExtractionError("ocr-off")
    budget.check_time()
    job = HeavyJob(
        kind=kind, data=data, time_s=budget.remaining_s(), ocr=limits.ocr, ocr_time_s=budget.ocr_left_s,
        max_ocr_pages=limits.max_ocr_pages, max_ocr_pixels=limits.max_ocr_pixels,
        max_chars=limits.max_text_chars, memory_bytes=limits.worker_memory_bytes,
    )
    result = _reader(budget)(job)
    budget.charge_ocr(result.ocr_s)
    for name, value in list(result.properties.items())[:MAX_PROPERTIES]:
        sink.properties[name[:MAX_VALUE_CHARS]] = value[:MAX_VALUE_CHARS]
    for text in result.pages:
        sink.add_body(text + "\n")
        sink.add_edge(first_lines(text, _PAGE_EDGE_LINES) + last_lines(text, _PAGE_EDGE_LINES))
    if result.error is not None:
        raise ExtractionError(result.error)


def _reader(budget: Budget) -> HeavyReader:
    if budget.reader is not None:
        return budget.reader
    from agent.sandbox import default_sandbox  # imported here: it starts worker processes on first use

    return default_sandbox()


def _read_ole(data: bytes, sink: DocumentSink, budget: Budget, attachments: list[ArchiveMember]) -> None:
    ole = open_ole(data)
    try:
        kind = ole_kind(ole)
        sink.format = kind
        if kind == "encrypted":
            raise ExtractionError("encrypted")
        if kind == "msg":
            read_msg(ole, sink, budget, attachments)
            return
        if kind == "unknown":
            raise ExtractionError("unsupported-format")
        if is_encrypted_office(data):
            raise ExtractionError("encrypted")
        if kind == "doc":
            read_doc(ole, sink, budget)
        elif kind == "xls":
            read_xls(data, sink, budget)
        else:
            read_ppt(ole, sink, budget)
    finally:
        ole.close()


def _read_container(zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    if find_member(zf, "word/document.xml") is not None:
        sink.format = "docx"
        read_docx(zf, sink, budget)
    elif find_member(zf, "xl/workbook.xml") is not None:
        sink.format = "xlsx"
        read_xlsx(zf, sink, budget)
    elif find_member(zf, "ppt/presentation.xml") is not None:
        sink.format = "pptx"
        read_pptx(zf, sink, budget)
    else:
        kind = odf_kind(zf, budget)
        if kind is None:
            sink.format = "archive"
            return
        sink.format = kind
        read_odf(kind, zf, sink, budget)
