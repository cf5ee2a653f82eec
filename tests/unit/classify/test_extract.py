"""Extraction from every supported format: body, marking zones and metadata parts."""

from __future__ import annotations

import codecs

import pytest

from agent.classify.extract import Extraction, extract, sniff_format
from agent.classify.limits import DEFAULT_LIMITS, Budget, Limits
from tests.unit.classify import documents
from tests.unit.classify.documents import LABEL_GUID, msip_properties

PARAS = ["Child: Keira Dunmore", "Seen at school with her mother; the care plan was discussed.", "Next visit Friday."]


def run(data: bytes, extension: str, limits: Limits = DEFAULT_LIMITS) -> Extraction:
    return extract(data, extension, Budget(limits))


def test_docx_body_zones_properties_and_label_info() -> None:
    data = documents.make_docx(
        PARAS, header="OFFICIAL-SENSITIVE: PERSONAL", footer="Children's Services", custom=msip_properties(),
        label_guid=LABEL_GUID, table=[["NHS number", "943 476 5919"], ["Status", "CIN"]],
    )
    result = run(data, "docx")
    assert result.error is None
    doc = result.document
    assert doc.format == "docx"
    assert doc.body.splitlines()[:3] == PARAS
    assert "NHS number\t943 476 5919" in doc.body
    assert "OFFICIAL-SENSITIVE: PERSONAL" in doc.zones and "Children's Services" in doc.zones
    assert doc.properties[f"MSIP_Label_{LABEL_GUID}_Enabled"] == "true"
    assert doc.label_entries[0]["id"] == "{" + LABEL_GUID + "}"


def test_xlsx_cells_shared_strings_numbers_and_page_header() -> None:
    data = documents.make_xlsx(
        [["Child", "NHS number"], ["Reuben Marlow", 9434765919], ["Esme Fairley", "401 023 2137"]],
        header="OFFICIAL-SENSITIVE", custom={"Department": "Children"},
    )
    doc = run(data, "xlsx").document
    assert doc.format == "xlsx"
    assert doc.body.splitlines() == ["Child\tNHS number", "Reuben Marlow\t9434765919", "Esme Fairley\t401 023 2137"]
    assert "OFFICIAL-SENSITIVE" in doc.zones.splitlines()
    assert doc.properties == {"Department": "Children"}


def test_pptx_slides_and_slide_edges_as_zones() -> None:
    data = documents.make_pptx([["Strategy meeting", "Keira Dunmore"], ["Actions", "OFFICIAL-SENSITIVE"]])
    doc = run(data, "pptx").document
    assert doc.format == "pptx"
    assert doc.body.split() == ["Strategy", "meeting", "Keira", "Dunmore", "Actions", "OFFICIAL-SENSITIVE"]
    assert "OFFICIAL-SENSITIVE" in doc.edges.splitlines()
    assert doc.zones == ""  # slide edges are body lines, never scanned twice


def test_odt_body_header_footer_and_user_properties() -> None:
    data = documents.make_odt(PARAS, header="OFFICIAL SENSITIVE", footer="Page footer",
                              user_props=msip_properties())
    doc = run(data, "odt").document
    assert doc.format == "odt"
    assert doc.body.splitlines() == PARAS
    assert {"OFFICIAL SENSITIVE", "Page footer"} <= set(doc.zones.splitlines())
    assert doc.properties[f"MSIP_Label_{LABEL_GUID}_Name"] == "Case Confidential"


def test_ods_rows_and_cells() -> None:
    doc = run(documents.make_ods([["Child", "NHS number"], ["Reuben Marlow", "943 476 5919"]]), "ods").document
    assert doc.format == "ods"
    assert [line.split() for line in doc.body.splitlines() if line.strip()] == [
        ["Child", "NHS", "number"], ["Reuben", "Marlow", "943", "476", "5919"]]


def test_pdf_pages_edges_and_info_dictionary() -> None:
    data = documents.make_pdf(PARAS * 40, header="OFFICIAL-SENSITIVE", footer="Page footer",
                              info=msip_properties(), lines_per_page=30)
    doc = run(data, "pdf").document
    assert doc.format == "pdf"
    assert doc.body.count("Next visit Friday.") == 40
    assert doc.edges.splitlines().count("OFFICIAL-SENSITIVE") >= 4  # once per page
    assert doc.zones == ""  # page edges are body lines, never scanned twice
    assert doc.properties[f"MSIP_Label_{LABEL_GUID}_Enabled"] == "true"


def test_pdf_with_empty_user_password_is_read() -> None:
    data = documents.make_pdf(PARAS, user_password="")
    result = run(data, "pdf")
    assert result.error is None
    assert "care plan" in result.document.body


def test_rtf_body_header_unicode_and_skipped_groups() -> None:
    data = documents.make_rtf([*PARAS, "Café — naïve"], header="PROTECT - PERSONAL", footer="Footer text")
    doc = run(data, "rtf").document
    assert doc.format == "rtf"
    assert doc.body.splitlines() == [*PARAS, "Café — naïve"]
    assert "Helvetica" not in doc.body and "Secret title" not in doc.body
    assert {"PROTECT - PERSONAL", "Footer text"} <= set(doc.zones.splitlines())


def test_rtf_hex_escapes_and_fields() -> None:
    rtf = (rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\pard caf\'e9 "
           rb"{\field{\*\fldinst HYPERLINK http://x}{\fldrslt link text}}\par}")
    assert run(rtf, "rtf").document.body == "café link text\n"


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Child: Amélie\nCare plan".encode(), "Child: Amélie\nCare plan"),
        (codecs.BOM_UTF8 + "Amélie".encode(), "Amélie"),
        ("Amélie".encode("utf-16"), "Amélie"),
        ("Amélie care plan".encode("utf-16-le"), "Amélie care plan"),
        ("Amélie".encode("cp1252"), "Amélie"),
    ],
)
def test_plain_text_encodings(data: bytes, text: str) -> None:
    assert run(data, "txt").document.body == text


def test_markdown_and_csv_are_text() -> None:
    assert run(b"# Care plan\n\n* item", "md").document.body == "# Care plan\n\n* item"
    assert run(b"name,nhs\nA,943 476 5919\n", "csv").document.body == "name,nhs\nA,943 476 5919\n"


def test_first_lines_of_the_body_are_an_edge() -> None:
    doc = run(b"OFFICIAL-SENSITIVE\nCase notes\n" + b"more text\n" * 50 + b"SECRET\n", "txt").document
    edges = doc.edges.splitlines()
    assert "OFFICIAL-SENSITIVE" in edges and "SECRET" not in edges


def test_content_decides_over_extension() -> None:
    docx = documents.make_docx(PARAS)
    assert sniff_format(docx, "txt") == "zip"
    assert run(docx, "bin").document.format == "docx"
    assert run(documents.make_pdf(PARAS), "docx").document.format == "pdf"


def test_plain_zip_is_an_archive() -> None:
    result = run(documents.make_zip({"a.txt": b"hello"}), "zip")
    assert result.is_archive and result.error is None


def test_unknown_binary_is_unsupported() -> None:
    assert run(bytes(range(256)) * 10, "bin").error == "unsupported-format"


def test_text_limit_keeps_what_fits() -> None:
    result = run(b"a" * 5000, "txt", Limits(max_text_chars=1000))
    assert result.error == "text-limit"
    assert len(result.document.body) == 1000
