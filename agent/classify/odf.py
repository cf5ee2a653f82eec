"""Text and metadata from OpenDocument files (odt, ods, odp), streamed part by part."""

from __future__ import annotations

import zipfile

from agent.classify.document import DocumentSink
from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget
from agent.classify.properties import odf_property_collector
from agent.classify.xmltext import TextCollector, XmlTextSpec
from agent.classify.zipread import find_member, parse_member, read_member

ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.text-template": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}

TEXT_SPEC = XmlTextSpec(
    text_tags=frozenset({"p", "h"}),
    end_marks={"p": "\n", "h": "\n", "table-cell": "\t", "table-row": "\n"},
    start_marks={"tab": "\t", "line-break": "\n", "s": " "},
    cell_tags=frozenset({"table-cell", "covered-table-cell"}),
)
SHEET_SPEC = XmlTextSpec(
    text_tags=frozenset({"p"}),
    end_marks={"p": " ", "table-cell": "\t", "covered-table-cell": "\t", "table-row": "\n", "table": "\n"},
    start_marks={"tab": "\t", "line-break": "\n", "s": " "},
)


def odf_kind(zf: zipfile.ZipFile, budget: Budget) -> str | None:
    """``odt``/``ods``/``odp`` from the ``mimetype`` member, or None if this is not an ODF package."""
    info = find_member(zf, "mimetype")
    if info is None or info.file_size > 200:
        return None
    mimetype = read_member(zf, info, budget).decode("ascii", "replace").strip()
    return ODF_MIMETYPES.get(mimetype)


_MANIFEST_LIMIT = 1024 * 1024


def is_encrypted_odf(zf: zipfile.ZipFile, budget: Budget) -> bool:
    """True when META-INF/manifest.xml declares encryption data: the parts are then ciphertext, not XML."""
    info = find_member(zf, "META-INF/manifest.xml")
    if info is None or info.file_size > _MANIFEST_LIMIT:
        return False
    return b"encryption-data" in read_member(zf, info, budget)


def read_odf(kind: str, zf: zipfile.ZipFile, sink: DocumentSink, budget: Budget) -> None:
    """Body from content.xml; zones from page headers/footers in styles.xml; properties from meta.xml.

    A password-protected package is ``encrypted`` (its parts would otherwise read as broken XML).
    """
    if is_encrypted_odf(zf, budget):
        raise ExtractionError("encrypted")
    meta = find_member(zf, "meta.xml")
    if meta is not None:
        parse_member(zf, meta, odf_property_collector(sink.properties), budget)
    styles = find_member(zf, "styles.xml")
    if styles is not None:
        parse_member(zf, styles, TextCollector(TEXT_SPEC, sink.add_zone), budget)
    content = find_member(zf, "content.xml")
    if content is None:
        raise ExtractionError("corrupt")
    spec = SHEET_SPEC if kind == "ods" else TEXT_SPEC
    parse_member(zf, content, TextCollector(spec, sink.add_body), budget)
