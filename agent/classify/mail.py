"""Text and attachments of emails: .eml and .mbox with the standard library's email package.

Every MIME part is decoded (base64, quoted-printable, its declared charset): text parts become the
body (HTML with its markup dropped), the Subject a title zone, and every attachment a member that the
classifier judges on its own, recursively, within the same budget as archive members.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import re
from html.parser import HTMLParser

from agent.classify.archive import ArchiveMember, member_extension
from agent.classify.document import DocumentSink
from agent.classify.limits import Budget
from agent.classify.textdecode import decode_text

_MBOX_SEPARATOR = re.compile(rb"(?m)^From [^\r\n]*\r?\n")
_HTML_BREAKS = frozenset({"p", "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"})
_HTML_SKIP = frozenset({"script", "style", "head", "title"})


class _HtmlText(HTMLParser):
    """Visible text of an HTML part: tags dropped, block ends as newlines, cells as tabs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HTML_SKIP:
            self._skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "td" or tag == "th":
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _HTML_BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """The visible text of ``markup``."""
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox file (each without its ``From `` separator line)."""
    starts = [m.end() for m in _MBOX_SEPARATOR.finditer(data)]
    if not starts:
        return [data]
    ends = [*(m.start() for m in _MBOX_SEPARATOR.finditer(data)), len(data)][1:]
    return [data[s:e] for s, e in zip(starts, ends, strict=True)]


def read_email(data: bytes, sink: DocumentSink, budget: Budget, attachments: list[ArchiveMember]) -> None:
    """Body and Subject of every message in ``data`` (one message, or an mbox) into ``sink``; attachments
    appended to ``attachments`` (kept when reading stops early).

    Attachment bytes are charged to the budget like decompressed archive members.
    """
    for raw in split_mbox(data) if data.startswith(b"From ") else [data]:
        budget.check_time()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        _read_message(message, sink, budget, attachments)


def _read_message(
    message: email.message.Message, sink: DocumentSink, budget: Budget, attachments: list[ArchiveMember]
) -> None:
    for part in message.walk():
        subject = part.get("Subject")  # the message itself, and any message attached inside it
        if subject:
            sink.add_zone(str(subject) + "\n")
        if part.is_multipart():
            continue
        budget.check_time()
        content_type = part.get_content_type()
        filename = part.get_filename()
        if content_type.startswith("text/") and not _is_attachment(part):
            text = _text_of(part)
            sink.add_body((html_text(text) if content_type == "text/html" else text) + "\n")
            continue
        if part.get_content_maintype() == "image" and not _is_attachment(part):
            continue  # inline pictures (signature logos) are not documents; attached ones are judged
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        budget.charge_member()
        budget.charge_bytes(len(payload))
        extension = member_extension(filename or "") or _extension_for(content_type)
        attachments.append(ArchiveMember(extension, payload))


def _is_attachment(part: email.message.Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def _text_of(part: email.message.Message) -> str:
    """A text part decoded from its transfer encoding and charset (unknown charsets guessed)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset()
    if charset:
        try:
            return payload.decode(charset, "replace")
        except LookupError:
            pass
    return decode_text(payload)


_TYPE_EXTENSIONS = {
    "application/pdf": "pdf",
    "application/zip": "zip",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-outlook": "msg",
    "application/rtf": "rtf",
    "message/rfc822": "eml",
    "text/csv": "csv",
    "text/plain": "txt",
    "text/html": "html",
}


def _extension_for(content_type: str) -> str:
    return _TYPE_EXTENSIONS.get(content_type, "")
