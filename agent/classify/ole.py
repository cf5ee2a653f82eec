"""OLE compound files (Outlook .msg, legacy Word/Excel/PowerPoint): which kind, and the text of a .msg.

olefile reads the container (a well-kept, dependency-free parser of the CFB format). A .msg keeps its
properties as streams named ``__substg1.0_<tag><type>`` ([MS-OXMSG] 2.1): subject 0x0037, plain body
0x1000, HTML body 0x1013; each attachment is a storage ``__attach_version1.0_#<n>`` with its bytes in
0x3701 and its file name in 0x3707 (long) or 0x3704. Type 001F is UTF-16LE text, 001E 8-bit text,
0102 binary.
"""

from __future__ import annotations

from typing import Any

from agent.classify.archive import ArchiveMember, member_extension
from agent.classify.document import DocumentSink
from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.textdecode import decode_text

_ATTACH_PREFIX = "__attach_version1.0_#"
_MAX_STREAM = 64 * 1024 * 1024


def open_ole(data: bytes) -> Any:
    """An ``olefile.OleFileIO`` over ``data``; ``corrupt`` when the container cannot be read."""
    import olefile  # type: ignore[import-untyped]  # imported on demand: only OLE files need it

    try:
        return olefile.OleFileIO(data)
    except Exception as exc:  # olefile raises OSError, struct.error, IndexError... on damaged headers
        raise ExtractionError("corrupt") from exc


def ole_kind(ole: Any) -> str:
    """``msg``, ``doc``, ``xls``, ``ppt``, ``encrypted`` (an OOXML file under a password) or ``unknown``."""
    if ole.exists("EncryptedPackage"):
        return "encrypted"
    if ole.exists("__properties_version1.0") or any(
        entry[0].startswith("__substg1.0_") for entry in ole.listdir(streams=True, storages=False)
    ):
        return "msg"
    if ole.exists("WordDocument"):
        return "doc"
    if ole.exists("Workbook") or ole.exists("Book"):
        return "xls"
    if ole.exists("PowerPoint Document"):
        return "ppt"
    return "unknown"


def _stream(ole: Any, path: str, budget: Budget) -> bytes | None:
    if not ole.exists(path):
        return None
    size = ole.get_size(path)
    if size > min(_MAX_STREAM, budget.limits.max_read_bytes):
        raise ExtractionError("too-large")
    data: bytes = ole.openstream(path).read()
    budget.charge_bytes(len(data))
    return data


def _text(ole: Any, prefix: str, tag: str, budget: Budget) -> str | None:
    unicode = _stream(ole, f"{prefix}__substg1.0_{tag}001F", budget)
    if unicode is not None:
        return unicode.decode("utf-16-le", "replace").rstrip("\0")
    narrow = _stream(ole, f"{prefix}__substg1.0_{tag}001E", budget)
    if narrow is not None:
        return decode_text(narrow.rstrip(b"\0"))
    return None


def read_msg(ole: Any, sink: DocumentSink, budget: Budget, attachments: list[ArchiveMember]) -> None:
    """Subject (a title zone), body (plain, else HTML) and attachments of an Outlook message."""
    subject = _text(ole, "", "0037", budget)
    if subject:
        sink.add_zone(subject + "\n")
    body = _text(ole, "", "1000", budget)
    if body is None:
        html = _stream(ole, "__substg1.0_10130102", budget)
        from agent.classify.mail import html_text  # the email package, only when a message has HTML alone

        body = html_text(decode_text(html)) if html else ""
    sink.add_body(body + "\n")
    storages = sorted({entry[0] for entry in ole.listdir(streams=False, storages=True)
                       if entry and entry[0].startswith(_ATTACH_PREFIX)})
    for storage in storages:
        budget.check_time()
        budget.charge_member()
        prefix = storage + "/"
        name = _text(ole, prefix, "3707", budget) or _text(ole, prefix, "3704", budget) or ""
        extension = member_extension(name)
        try:
            payload = _stream(ole, prefix + "__substg1.0_37010102", budget)
        except ExtractionError as exc:
            if exc.fatal:
                raise
            attachments.append(ArchiveMember(extension, error=exc.reason))
            continue
        if payload is None:
            # An embedded message (0x3701 as a storage, type 000D) or an OLE object: not read yet.
            attachments.append(ArchiveMember(extension or "msg", error="unsupported-format"))
            continue
        attachments.append(ArchiveMember(extension, payload))
