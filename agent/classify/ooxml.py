"""Text and metadata from Office Open XML documents (docx, xlsx, pptx), streamed part by part."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable

from agent.classify.document import DocumentSink, first_lines, last_lines
from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.properties import LabelInfoCollector, ooxml_property_collector
from agent.classify.xmltext import TextCollector, XmlHandler, XmlTextSpec, attribute, local_name
from agent.classify.zipread import find_member, natural_members, parse_member

WORD_SPEC = XmlTextSpec(
    text_tags=frozenset({"t"}),
    end_marks={"p": "\n", "tc": "\t", "tr": "\n"},
    start_marks={"tab": "\t", "br": "\n", "cr": "\n"},
    cell_tags=frozenset({"tc"}),
)
DRAWING_SPEC = XmlTextSpec(text_tags=frozenset({"t"}), end_marks={"p": "\n"}, start_marks={"br": "\n"})

_HEADER_FOOTER = re.compile(r"word/(?:header|footer)(\d*)\.xml")
_SHEET = re.compile(r"xl/worksheets/sheet(\d*)\.xml")
_SLIDE = re.compile(r"ppt/slides/slide(\d+)\.xml")
_NOTES = re.compile(r"ppt/notesSlides/notesSlide(\d+)\.xml")
_SLIDE_EDGE_LINES = 3
# Excel page header/footer codes: &L &C &R start sections, &"font,style", &12 (size), &P &D etc.
_XL_HEADER_CODES = re.compile(r'&(?:"[^"]*"|\d+|[A-Za-z])')


def read_metadata(zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    """Custom properties (docProps/custom.xml) and label metadata (docMetadata/LabelInfo.xml)."""
    custom = find_member(zf, "docProps/custom.xml")
    if custom is not None:
        parse_member(zf, custom, ooxml_property_collector(sink.properties), budget)
    label_info = find_member(zf, "docMetadata/LabelInfo.xml")
    if label_info is not None:
        parse_member(zf, label_info, LabelInfoCollector(sink.label_entries), budget)


def _parse_text(zf: zipfile.ZipFile, info: zipfile.ZipInfo, spec: XmlTextSpec, emit: Callable[[str], None],
                budget: Budget) -> None:
    parse_member(zf, info, TextCollector(spec, emit), budget)


def read_docx(zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    """Body from word/document.xml (plus notes and comments); zones from headers and footers."""
    read_metadata(zf, sink, budget)
    for info in natural_members(zf, _HEADER_FOOTER):
        _parse_text(zf, info, WORD_SPEC, sink.add_zone, budget)
    document = find_member(zf, "word/document.xml")
    if document is None:
        raise ExtractionError("corrupt")
    _parse_text(zf, document, WORD_SPEC, sink.add_body, budget)
    for name in ("word/footnotes.xml", "word/endnotes.xml", "word/comments.xml"):
        extra = find_member(zf, name)
        if extra is not None:
            _parse_text(zf, extra, WORD_SPEC, sink.add_body, budget)


def read_pptx(zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    """Body from slides and notes; zones from the first and last lines of each slide (footers live there)."""
    read_metadata(zf, sink, budget)
    for info in natural_members(zf, _SLIDE):
        parts: list[str] = []
        try:
            _parse_text(zf, info, DRAWING_SPEC, parts.append, budget)
        finally:
            slide = "".join(parts)
            sink.add_body(slide + "\n")
            sink.add_edge(first_lines(slide, _SLIDE_EDGE_LINES) + last_lines(slide, _SLIDE_EDGE_LINES))
    for info in natural_members(zf, _NOTES):
        _parse_text(zf, info, DRAWING_SPEC, sink.add_body, budget)


class SharedStrings(XmlHandler):
    """xl/sharedStrings.xml: one string per ``<si>``, rich-text runs joined."""

    def __init__(self, max_chars: int) -> None:
        self.strings: list[str] = []
        self._parts: list[str] = []
        self._in_text = 0
        self._chars = 0
        self._max_chars = max_chars

    def start(self, tag: str, attrs: list[str]) -> None:
        local = local_name(tag)
        if local == "t":
            self._in_text += 1
        elif local == "rPh":  # phonetic guide text, not content
            self._in_text -= 1000

    def end(self, tag: str) -> None:
        local = local_name(tag)
        if local == "t":
            self._in_text -= 1
        elif local == "rPh":
            self._in_text += 1000
        elif local == "si":
            text = "".join(self._parts)
            self._parts.clear()
            self._chars += len(text)
            if self._chars > self._max_chars:
                raise ExtractionError("text-limit")
            self.strings.append(text)

    def data(self, text: str) -> None:
        if self._in_text > 0:
            self._parts.append(text)


_HEADER_FOOTER_CELLS = frozenset({"oddHeader", "oddFooter", "evenHeader", "evenFooter", "firstHeader", "firstFooter"})


class SheetCollector(XmlHandler):
    """One worksheet: cell values (shared strings resolved) as tab-separated rows; page header/footer as zones."""

    def __init__(self, shared: list[str], sink: DocumentSink) -> None:
        self._shared = shared
        self._sink = sink
        self._rows: list[str] = []
        self._row: list[str] = []
        self._cell_type: str | None = None
        self._value: list[str] = []
        self._capture = False
        self._zone: list[str] | None = None

    def start(self, tag: str, attrs: list[str]) -> None:
        local = local_name(tag)
        if local == "c":
            self._cell_type = attribute(attrs, "t")
            self._value = []
        elif local in ("v", "t"):
            self._capture = True
        elif local in _HEADER_FOOTER_CELLS:
            self._zone = []

    def data(self, text: str) -> None:
        if self._capture:
            self._value.append(text)
        elif self._zone is not None:
            self._zone.append(text)

    def end(self, tag: str) -> None:
        local = local_name(tag)
        if local in ("v", "t"):
            self._capture = False
        elif local == "c":
            self._row.append(self._cell_text())
        elif local == "row":
            self._rows.append("\t".join(self._row))
            self._row = []
            if len(self._rows) >= 256:
                self._flush()
        elif local in _HEADER_FOOTER_CELLS and self._zone is not None:
            self._sink.add_zone(_XL_HEADER_CODES.sub("\n", "".join(self._zone)).replace("&&", "&") + "\n")
            self._zone = None

    def _cell_text(self) -> str:
        raw = "".join(self._value)
        if self._cell_type == "s":
            try:
                return self._shared[int(raw)]
            except (ValueError, IndexError):
                return ""
        return raw

    def _flush(self) -> None:
        if self._rows:
            self._sink.add_body("\n".join(self._rows) + "\n")
            self._rows = []

    def finish(self) -> None:
        self._flush()


def read_xlsx(zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    """Body from every worksheet in order; zones from sheet page headers/footers."""
    read_metadata(zf, sink, budget)
    shared = SharedStrings(budget.limits.max_text_chars)
    info = find_member(zf, "xl/sharedStrings.xml")
    if info is not None:
        parse_member(zf, info, shared, budget)
    for sheet in natural_members(zf, _SHEET):
        parse_member(zf, sheet, SheetCollector(shared.strings, sink), budget)
