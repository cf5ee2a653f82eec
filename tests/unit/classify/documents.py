"""Real documents for classifier tests, made with real writers (python-docx, openpyxl, pypdf) or, for
formats without one here (ODF, pptx, RTF), assembled per their specifications with zipfile/by hand.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

import docx
import openpyxl
from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

LABEL_GUID = "6f1c2a7e-5b9d-4c3e-8a21-0d9e4b7f3c55"
OTHER_GUID = "0b8e1d2c-3a4f-4b6d-9e7a-1c2d3e4f5a6b"
SITE_GUID = "a1b2c3d4-0000-4000-8000-123456789abc"


def msip_properties(guid: str = LABEL_GUID, name: str = "Case Confidential", enabled: bool = True) -> dict[str, str]:
    """The custom properties Office writes for an applied sensitivity label."""
    prefix = f"MSIP_Label_{guid}_"
    return {
        prefix + "Enabled": "true" if enabled else "false",
        prefix + "SetDate": "2025-03-04T10:11:12Z",
        prefix + "Method": "Privileged",
        prefix + "Name": name,
        prefix + "SiteId": SITE_GUID,
        prefix + "ActionId": "11111111-2222-4333-8444-555555555555",
        prefix + "ContentBits": "1",
    }


def _custom_xml(props: Mapping[str, str]) -> bytes:
    items = "".join(
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}" name={quoteattr(name)}>'
        f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>"
        for pid, (name, value) in enumerate(props.items(), start=2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        f"{items}</Properties>"
    ).encode()


def _label_info_xml(guid: str, enabled: bool = True, removed: bool = False) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'
        '<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata">'
        f'<clbl:label id="{{{guid}}}" enabled="{int(enabled)}" method="Standard" siteId="{{{SITE_GUID}}}" '
        f'removed="{int(removed)}"/></clbl:labelList>'
    ).encode()


def add_ooxml_metadata(
    data: bytes, custom: Mapping[str, str] | None = None, label_guid: str | None = None,
    label_enabled: bool = True,
) -> bytes:
    """Add docProps/custom.xml and/or docMetadata/LabelInfo.xml to an OOXML package, with content types
    and package relationships as Office writes them."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "[Content_Types].xml":
                extra = ""
                if custom is not None:
                    extra += ('<Override PartName="/docProps/custom.xml" ContentType="application/'
                              'vnd.openxmlformats-officedocument.custom-properties+xml"/>')
                if label_guid is not None:
                    extra += ('<Override PartName="/docMetadata/LabelInfo.xml" '
                              'ContentType="application/vnd.ms-office.classificationlabels+xml"/>')
                body = body.replace(b"</Types>", extra.encode() + b"</Types>")
            elif info.filename == "_rels/.rels":
                extra = ""
                if custom is not None:
                    extra += ('<Relationship Id="rIdCustom" Type="http://schemas.openxmlformats.org/'
                              'officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/>')
                if label_guid is not None:
                    extra += ('<Relationship Id="rIdLabel" Type="http://schemas.microsoft.com/office/2020/02/'
                              'relationships/classificationlabels" Target="docMetadata/LabelInfo.xml"/>')
                body = body.replace(b"</Relationships>", extra.encode() + b"</Relationships>")
            dst.writestr(info, body)
        if custom is not None:
            dst.writestr("docProps/custom.xml", _custom_xml(custom))
        if label_guid is not None:
            dst.writestr("docMetadata/LabelInfo.xml", _label_info_xml(label_guid, enabled=label_enabled))
    return out.getvalue()


def make_docx(
    paragraphs: Sequence[str], *, header: str | None = None, footer: str | None = None,
    custom: Mapping[str, str] | None = None, label_guid: str | None = None, table: Sequence[Sequence[str]] = (),
) -> bytes:
    """A Word document via python-docx (header/footer on the first section, optional table and labels)."""
    document = docx.Document()
    section = document.sections[0]
    if header is not None:
        section.header.paragraphs[0].text = header
    if footer is not None:
        section.footer.paragraphs[0].text = footer
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    data = out.getvalue()
    if custom is not None or label_guid is not None:
        data = add_ooxml_metadata(data, custom, label_guid)
    return data


def make_xlsx(rows: Sequence[Sequence[object]], *, header: str | None = None,
              custom: Mapping[str, str] | None = None) -> bytes:
    """A workbook via openpyxl; ``header`` goes in the centre of the printed page header."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(list(row))
    if header is not None:
        ws.oddHeader.center.text = header
    out = io.BytesIO()
    wb.save(out)
    data = out.getvalue()
    return add_ooxml_metadata(data, custom) if custom is not None else data


_PPTX_CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/ppt/presentation.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/>'
    "{slides}</Types>"
)


def make_pptx(slides: Sequence[Sequence[str]]) -> bytes:
    """A minimal PresentationML package: one text box per slide, one paragraph per line."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        overrides = "".join(
            f'<Override PartName="/ppt/slides/slide{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/>'
            for i in range(1, len(slides) + 1)
        )
        z.writestr("[Content_Types].xml", _PPTX_CT.format(slides=overrides))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships '
            'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="ppt/presentation.xml"/></Relationships>'))
        z.writestr("ppt/presentation.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><p:presentation '
            'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'))
        for i, lines in enumerate(slides, start=1):
            paras = "".join(f"<a:p><a:r><a:t>{escape(line)}</a:t></a:r></a:p>" for line in lines)
            z.writestr(f"ppt/slides/slide{i}.xml", (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
                f"<p:cSld><p:spTree><p:sp><p:txBody>{paras}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"))
    return out.getvalue()


_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" office:version="1.3"'
)


def _odf_package(mimetype: str, content_body: str, *, header: str | None, footer: str | None,
                 user_props: Mapping[str, str] | None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        # ODF: "mimetype" first and stored uncompressed.
        z.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest {_ODF_NS}>'
            f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mimetype}"/>'
            '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
            '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
            '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
            "</manifest:manifest>"))
        z.writestr("content.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODF_NS}>'
            f"<office:body>{content_body}</office:body></office:document-content>"))
        page = ""
        if header is not None:
            page += f"<style:header><text:p>{escape(header)}</text:p></style:header>"
        if footer is not None:
            page += f"<style:footer><text:p>{escape(footer)}</text:p></style:footer>"
        z.writestr("styles.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {_ODF_NS}>'
            '<office:master-styles><style:master-page style:name="Standard">'
            f"{page}</style:master-page></office:master-styles></office:document-styles>"))
        props = "".join(
            f"<meta:user-defined meta:name={quoteattr(k)}>{escape(v)}</meta:user-defined>"
            for k, v in (user_props or {}).items()
        )
        z.writestr("meta.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {_ODF_NS}>'
            f"<office:meta>{props}</office:meta></office:document-meta>"))
    return out.getvalue()


def make_odt(paragraphs: Sequence[str], *, header: str | None = None, footer: str | None = None,
             user_props: Mapping[str, str] | None = None) -> bytes:
    """An OpenDocument text file; paragraphs as ``text:p`` with a span and a tab to exercise nesting."""
    body = "".join(
        f"<text:p>{escape(p)}</text:p>" if i % 3 else
        f"<text:p><text:span>{escape(p[:10])}</text:span>{escape(p[10:])}</text:p>"
        for i, p in enumerate(paragraphs)
    )
    return _odf_package("application/vnd.oasis.opendocument.text", f"<office:text>{body}</office:text>",
                        header=header, footer=footer, user_props=user_props)


_DRAW_NS = ('xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
            'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"')


def make_odp(slides: Sequence[Sequence[str]]) -> bytes:
    """An OpenDocument presentation: one text frame per line on each slide (LibreOffice reads it, so it
    can write the .ppt and .pptx copies tests need)."""
    pages = "".join(
        f'<draw:page {_DRAW_NS} draw:name="slide{i + 1}">'
        + "".join(
            f'<draw:frame svg:x="1cm" svg:y="{1 + 3 * j}cm" svg:width="24cm" svg:height="2.5cm">'
            f"<draw:text-box><text:p>{escape(line)}</text:p></draw:text-box></draw:frame>"
            for j, line in enumerate(lines)
        )
        + "</draw:page>"
        for i, lines in enumerate(slides)
    )
    return _odf_package("application/vnd.oasis.opendocument.presentation",
                        f"<office:presentation>{pages}</office:presentation>", header=None, footer=None,
                        user_props=None)


def make_ods(rows: Sequence[Sequence[object]], *, header: str | None = None) -> bytes:
    """An OpenDocument spreadsheet with one table."""
    cells = "".join(
        "<table:table-row>" + "".join(
            f"<table:table-cell><text:p>{escape(str(v))}</text:p></table:table-cell>" for v in row
        ) + "</table:table-row>"
        for row in rows
    )
    return _odf_package(
        "application/vnd.oasis.opendocument.spreadsheet",
        f'<office:spreadsheet><table:table table:name="Sheet1">{cells}</table:table></office:spreadsheet>',
        header=header, footer=None, user_props=None,
    )


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def _pdf_string(line: str) -> bytes:
    raw = line.encode("cp1252", "replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def make_pdf(
    paragraphs: Sequence[str], *, header: str | None = None, footer: str | None = None,
    info: Mapping[str, str] | None = None, user_password: str | None = None, width: int = 88,
    lines_per_page: int = 48,
) -> bytes:
    """A PDF with a real text layer (Helvetica, WinAnsi) written by pypdf: paragraphs wrapped at ``width``
    characters, as a converter would lay them out, with a running header and footer on every page."""
    lines: list[str] = []
    for p in paragraphs:
        lines.extend(_wrap(p, width))
        lines.append("")
    writer = PdfWriter()
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"), NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
    })
    for start in range(0, max(1, len(lines)), lines_per_page):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        ops = [b"BT /F1 10 Tf 12 TL"]
        if header is not None:
            ops.append(b"1 0 0 1 50 770 Tm " + _pdf_string(header) + b" Tj")
        ops.append(b"1 0 0 1 50 740 Tm")
        for line in lines[start : start + lines_per_page]:
            ops.append(_pdf_string(line) + b" Tj T*")
        if footer is not None:
            ops.append(b"1 0 0 1 50 30 Tm " + _pdf_string(footer) + b" Tj")
        ops.append(b"ET")
        stream = ContentStream(None, None)
        stream.set_data(b"\n".join(ops))
        page.replace_contents(stream)
    if info:
        writer.add_metadata({"/" + k: v for k, v in info.items()})
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password=user_password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _rtf_escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ord(ch) > 127:
            code = ord(ch)
            out.append(f"\\u{code if code < 32768 else code - 65536}?")
        else:
            out.append(ch)
    return "".join(out)


def make_rtf(paragraphs: Sequence[str], *, header: str | None = None, footer: str | None = None) -> bytes:
    """An RTF document as word processors write it: font/colour tables, info group, header/footer groups."""
    parts = [
        r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}{\f1\froman Times New Roman;}}",
        r"{\colortbl;\red0\green0\blue0;}{\*\generator Hand 1.0;}{\info{\title Secret title not body}}",
        r"{\stylesheet{\s0 Normal;}}\viewkind4\uc1",
    ]
    if header is not None:
        parts.append(r"{\header\pard\plain " + _rtf_escape(header) + r"\par}")
    if footer is not None:
        parts.append(r"{\footer\pard\plain " + _rtf_escape(footer) + r"\par}")
    for p in paragraphs:
        parts.append(r"\pard\f0\fs22 " + _rtf_escape(p) + r"\par" + "\n")
    parts.append("}")
    return "".join(parts).encode("ascii")


def make_zip(members: Mapping[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of ``members``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def replace_member(package: bytes, name: str, data: bytes) -> bytes:
    """``package`` with member ``name`` replaced by ``data``."""
    src = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == name else src.read(info))
    return out.getvalue()


def set_encrypted_flag(archive: bytes) -> bytes:
    """Mark every member encrypted (general-purpose flag bit 0) in local and central headers, as a
    password-protected zip is marked."""
    data = bytearray(archive)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flag_offset] |= 0x01
            at = data.find(signature, at + 4)
    return bytes(data)
