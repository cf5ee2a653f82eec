"""Text from legacy binary Office files inside an OLE container: Word .doc, Excel .xls, PowerPoint .ppt.

- .doc: the piece table ([MS-DOC] 2.4.1): the FIB names the CLX in the table stream, whose PlcPcd maps
  character positions to runs of 8-bit (Windows-1252) or UTF-16 text in the WordDocument stream. Main
  text is the body; the header/footer story (after the footnotes) is a marking zone.
- .xls: xlrd (well-kept BIFF reader), every sheet's cells as tab-separated rows.
- .ppt: the text atoms (TextCharsAtom, TextBytesAtom) of the "PowerPoint Document" record stream
  ([MS-PPT] 2.3), each slide's text lines also marking edges.

Password-protected files are ``encrypted``: msoffcrypto-tool reads the FIB/FILEPASS/crypt headers
that say so, for all three formats.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from agent.classify.document import DocumentSink, first_lines, last_lines
from agent.classify.errors import ExtractionError
from agent.classify.limits import Budget

_FIB_FLAGS = 0x0A
_F_ENCRYPTED = 0x0100
_F_WHICH_TABLE = 0x0200
_FC_CLX = 0x01A2  # FibRgFcLcb97.fcClx / lcbClx (Word 97 and later)
_FIB_RG_LW = 0x40  # after FibBase (32), csw (2), fibRgW (28), cslw (2)
_CHECK_EVERY = 256
# The 8-bit code points Word maps differently from Latin-1 in compressed pieces ([MS-DOC] 2.4.1).
_DOC_SPECIAL = {0x82: "‚", 0x83: "ƒ", 0x84: "„", 0x85: "…", 0x86: "†", 0x87: "‡", 0x88: "ˆ", 0x89: "‰",
                0x8A: "Š", 0x8B: "‹", 0x8C: "Œ", 0x91: "‘", 0x92: "’", 0x93: "“", 0x94: "”", 0x95: "•",
                0x96: "–", 0x97: "—", 0x98: "˜", 0x99: "™", 0x9A: "š", 0x9B: "›", 0x9C: "œ", 0x9F: "Ÿ"}
_DOC_CONTROLS = str.maketrans({"\r": "\n", "\x07": "\t", "\x0b": "\n", "\x0c": "\n", "\x1e": "-", "\x1f": "",
                               "\x01": "", "\x08": ""})


def is_encrypted_office(data: bytes) -> bool:
    """True when msoffcrypto-tool finds the legacy or OOXML encryption headers in ``data``."""
    import msoffcrypto  # type: ignore[import-untyped]  # imported on demand: only OLE files need it

    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:  # not a format it knows, or damaged: the reader decides then
        return False


def _read(ole: Any, name: str, budget: Budget) -> bytes:
    if not ole.exists(name):
        raise ExtractionError("corrupt")
    if ole.get_size(name) > budget.limits.max_read_bytes:
        raise ExtractionError("too-large")
    data: bytes = ole.openstream(name).read()
    budget.charge_bytes(len(data))
    return data


def _piece_text(word: bytes, fc_value: int, chars: int) -> str:
    if fc_value & 0x40000000:  # fCompressed: 8-bit text at fc / 2
        start = (fc_value & 0x3FFFFFFF) // 2
        raw = word[start : start + chars]
        return "".join(_DOC_SPECIAL.get(b, chr(b)) for b in raw) if any(b >= 0x80 for b in raw) else raw.decode(
            "latin-1"
        )
    start = fc_value & 0x3FFFFFFF
    return word[start : start + 2 * chars].decode("utf-16-le", "replace")


def _drop_field_codes(text: str) -> str:
    """Keep field results, drop field instructions (between 0x13 and 0x14 or 0x15)."""
    if "\x13" not in text:
        return text
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch == "\x13":
            depth += 1
        elif ch == "\x14":
            depth = max(0, depth - 1) if depth else 0
        elif ch == "\x15":
            depth = max(0, depth - 1)
        elif not depth:
            out.append(ch)
    return "".join(out)


def doc_text(ole: Any, budget: Budget) -> tuple[str, str]:
    """(main text, header/footer text) of a Word 97-2003 document."""
    word = _read(ole, "WordDocument", budget)
    if len(word) < _FC_CLX + 8:
        raise ExtractionError("corrupt")
    (flags,) = struct.unpack_from("<H", word, _FIB_FLAGS)
    if flags & _F_ENCRYPTED:
        raise ExtractionError("encrypted")
    table = _read(ole, "1Table" if flags & _F_WHICH_TABLE else "0Table", budget)
    ccp_text, ccp_ftn, ccp_hdd = struct.unpack_from("<iii", word, _FIB_RG_LW + 3 * 4)
    fc_clx, lcb_clx = struct.unpack_from("<II", word, _FC_CLX)
    clx = table[fc_clx : fc_clx + lcb_clx]
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: skip property modifiers
        (size,) = struct.unpack_from("<h", clx, pos + 1)
        pos += 3 + max(0, size)
    if pos + 5 > len(clx) or clx[pos] != 0x02:
        raise ExtractionError("corrupt")
    (lcb,) = struct.unpack_from("<I", clx, pos + 1)
    plc = clx[pos + 5 : pos + 5 + lcb]
    pieces = (len(plc) - 4) // 12
    if pieces <= 0:
        return "", ""
    cps = struct.unpack_from(f"<{pieces + 1}i", plc, 0)
    parts: list[str] = []
    for i in range(pieces):
        if i % _CHECK_EVERY == 0:
            budget.check_time()
        (fc_value,) = struct.unpack_from("<I", plc, 4 * (pieces + 1) + 8 * i + 2)
        parts.append(_piece_text(word, fc_value, max(0, cps[i + 1] - cps[i])))
    text = "".join(parts)
    body_end = max(0, ccp_text)
    headers_start = body_end + max(0, ccp_ftn)
    body = text[:body_end] + "\n" + text[body_end:headers_start]
    headers = text[headers_start : headers_start + max(0, ccp_hdd)]
    return (_drop_field_codes(body).translate(_DOC_CONTROLS), _drop_field_codes(headers).translate(_DOC_CONTROLS))


def read_doc(ole: Any, sink: DocumentSink, budget: Budget) -> None:
    """Body and header/footer zones of a .doc."""
    body, headers = doc_text(ole, budget)
    sink.add_zone(headers)
    sink.add_body(body)


def read_xls(data: bytes, sink: DocumentSink, budget: Budget) -> None:
    """Every sheet's cell text, rows tab-separated; ``encrypted`` for a password-protected workbook."""
    import xlrd  # type: ignore[import-untyped]  # imported on demand: only .xls files need it

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=io.StringIO())
    except xlrd.biffh.XLRDError as exc:
        raise ExtractionError("encrypted" if "encrypt" in str(exc).lower() else "corrupt") from exc
    except Exception as exc:  # xlrd on hostile input raises struct, index and assertion errors
        raise ExtractionError("corrupt") from exc
    try:
        for index in range(book.nsheets):
            budget.check_time()
            sheet = book.get_sheet(index)
            rows: list[str] = []
            for r in range(sheet.nrows):
                rows.append("\t".join(_cell_text(sheet.cell(r, c)) for c in range(sheet.ncols)))
                if len(rows) >= 256:
                    sink.add_body("\n".join(rows) + "\n")
                    rows = []
                    budget.check_time()
            sink.add_body("\n".join(rows) + "\n")
            book.unload_sheet(index)
    finally:
        book.release_resources()


def _cell_text(cell: Any) -> str:
    value = cell.value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # an NHS number typed as a number is stored as a float
    return "" if value is None else str(value)


_PPT_CONTAINER = 0x0F
_TEXT_CHARS_ATOM = 0x0FA0
_TEXT_BYTES_ATOM = 0x0FA8
_SLIDE = 0x03EE


def read_ppt(ole: Any, sink: DocumentSink, budget: Budget) -> None:
    """Text atoms of a .ppt in stream order; each slide's lines also marking edges."""
    stream = _read(ole, "PowerPoint Document", budget)
    pos = 0
    slide: list[str] = []
    records = 0
    while pos + 8 <= len(stream):
        ver_instance, rec_type, length = struct.unpack_from("<HHI", stream, pos)
        records += 1
        if records % 4096 == 0:
            budget.check_time()
        if ver_instance & 0x0F == _PPT_CONTAINER:
            if rec_type == _SLIDE and slide:
                _flush_slide(slide, sink)
            pos += 8
            continue
        end = min(len(stream), pos + 8 + length)
        if rec_type == _TEXT_CHARS_ATOM:
            slide.append(stream[pos + 8 : end].decode("utf-16-le", "replace"))
        elif rec_type == _TEXT_BYTES_ATOM:
            slide.append(stream[pos + 8 : end].decode("cp1252", "replace"))
        pos = pos + 8 + length
    _flush_slide(slide, sink)


def _flush_slide(lines: list[str], sink: DocumentSink) -> None:
    if not lines:
        return
    text = "\n".join(line.replace("\r", "\n").replace("\x0b", "\n") for line in lines)
    sink.add_body(text + "\n")
    sink.add_edge(first_lines(text, 3) + last_lines(text, 3))
    lines.clear()
