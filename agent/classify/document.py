"""What extraction yields for one document: body text, marking zones and metadata parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from agent.classify.errors import ExtractionError

# How many leading non-empty lines of the body count as a marking zone.
FIRST_LINES = 5
_FIRST_LINES_CHARS = 600
# Edge lines kept per document (six per page of a long PDF would otherwise grow without bound).
MAX_EDGE_LINES = 4096


@dataclass(frozen=True)
class ExtractedDocument:
    """Text and metadata taken out of one document (not an archive).

    ``body`` is the running text; ``zones`` is text from headers and footers, which is not part of the body;
    ``edges`` are lines copied from the body where markings and titles stand (the first lines of the body,
    the first and last lines of PDF pages and slides), so they are never scanned for content a second
    time; ``properties`` are custom
    document properties (docProps/custom.xml, ODF user-defined metadata, PDF info keys); ``label_entries``
    are the attributes of each ``<clbl:label>`` in docMetadata/LabelInfo.xml.
    """

    format: str
    body: str = ""
    zones: str = ""
    edges: str = ""
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    label_entries: tuple[Mapping[str, str], ...] = ()


def first_lines(text: str, count: int = FIRST_LINES) -> list[str]:
    """The first ``count`` non-empty lines of ``text`` (bounded in length)."""
    lines: list[str] = []
    for line in text[: _FIRST_LINES_CHARS * count].splitlines():
        if line.strip():
            lines.append(line[:_FIRST_LINES_CHARS])
            if len(lines) >= count:
                break
    return lines


def last_lines(text: str, count: int) -> list[str]:
    """The last ``count`` non-empty lines of ``text`` (bounded in length)."""
    lines = [line for line in text[-_FIRST_LINES_CHARS * count :].splitlines() if line.strip()]
    return [line[:_FIRST_LINES_CHARS] for line in lines[-count:]]


class DocumentSink:
    """Collects a document's parts while a format reader runs, within a character limit.

    A reader that stops half way (budget, broken part) leaves what it had: the classifier still
    scans it, so a truncated file is judged on what could be read.
    """

    def __init__(self, fmt: str, max_chars: int) -> None:
        self.format = fmt
        self._max_chars = max_chars
        self._chars = 0
        self._body: list[str] = []
        self._zones: list[str] = []
        self._edges: list[str] = []
        self.properties: dict[str, str] = {}
        self.label_entries: list[dict[str, str]] = []

    def _add(self, parts: list[str], text: str) -> None:
        room = self._max_chars - self._chars
        if len(text) <= room:
            self._chars += len(text)
            parts.append(text)
            return
        if room > 0:
            parts.append(text[:room])
            self._chars = self._max_chars
        raise ExtractionError("text-limit")

    def add_body(self, text: str) -> None:
        """Append running text (a paragraph, a page, a sheet); raises ``text-limit`` past the limit."""
        if text:
            self._add(self._body, text)

    def add_zone(self, text: str) -> None:
        """Append text from a header, footer or other place markings sit."""
        if text:
            self._add(self._zones, text)

    def add_edge(self, lines: list[str]) -> None:
        """Record lines already added to the body (a page's first and last lines) as a marking place.

        Not counted against the character limit: they are copies, bounded by ``last_lines``/``first_lines``.
        """
        room = MAX_EDGE_LINES - len(self._edges)
        if room > 0:
            self._edges.extend(lines[:room])

    @property
    def body_text(self) -> str:
        """The body collected so far."""
        return "".join(self._body)

    def freeze(self) -> ExtractedDocument:
        """The collected parts as an immutable ``ExtractedDocument``; body first lines join the edges."""
        body = "".join(self._body)
        return ExtractedDocument(
            format=self.format,
            body=body,
            zones="\n".join(self._zones),
            edges="\n".join([*first_lines(body), *self._edges]),
            properties=MappingProxyType(dict(self.properties)),
            label_entries=tuple(MappingProxyType(dict(e)) for e in self.label_entries),
        )
