"""Issue 13's finding 12: RTF code pages, a quiet PDF parser, and error reasons that say what happened."""

from __future__ import annotations

import logging
import os
import re
import struct
import zipfile
import zlib

import pytest

from agent.classify import classify_bytes
from agent.classify.extract import extract
from agent.classify.limits import Budget, Limits
from tests.unit.classify import documents


def test_rtf_hex_escapes_follow_the_declared_code_page() -> None:
    # "Привет, Кира" in Windows-1251, as Word writes Cyrillic text with \ansicpg1251.
    escaped = "".join(f"\\'{b:02x}" for b in "Привет, Кира".encode("cp1251"))
    rtf = ("{\\rtf1\\ansi\\ansicpg1251\\deff0{\\fonttbl{\\f0\\fcharset204 Arial;}}" + escaped + "\\par}").encode()
    doc = extract(rtf, "rtf", Budget(Limits())).document
    assert doc.body.strip() == "Привет, Кира"


def test_rtf_without_a_code_page_is_still_windows_1252() -> None:
    doc = extract(b"{\\rtf1\\ansi caf\\'e9\\par}", "rtf", Budget(Limits())).document
    assert doc.body.strip() == "café"


def test_a_damaged_pdf_leaves_nothing_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    pdf = documents.make_pdf(["Keira Dunmore 943 476 5919 (Morgan)"] * 60)
    damaged = re.sub(rb"startxref\s+\d+", b"startxref\n999", pdf).replace(b"/Length", b"/Lenxth")
    with caplog.at_level(logging.DEBUG):
        verdict = classify_bytes(damaged, "pdf")
    assert verdict.size == len(damaged)
    pypdf_records = [r for r in caplog.records if r.name.startswith("pypdf")]
    assert pypdf_records == []
    assert not any("Dunmore" in r.getMessage() or "@pos" in r.getMessage() for r in caplog.records)


def _local_header(name: bytes, crc: int, compressed: int, size: int) -> bytes:
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, compressed, size, len(name), 0) + name


def _central(name: bytes, crc: int, compressed: int, size: int, offset: int) -> bytes:
    return struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, compressed, size, len(name), 0, 0, 0, 0, 0, offset
    ) + name


def quoted_overlap_bomb(files: int = 40, kernel_size: int = 4 << 20) -> bytes:
    """A zip bomb with quoted overlap (Fifield, "A better zip bomb", USENIX WOOT 2019): each file's deflate
    stream opens with a stored block quoting the next file's local header, then runs on into the next file's
    data, so every file decompresses to the same shared kernel. Built here from the paper's description."""
    kernel = zlib.compressobj(9, zlib.DEFLATED, -15)
    kernel_data = kernel.compress(b"\0" * kernel_size) + kernel.flush()
    names = [f"{i:03d}.txt".encode() for i in range(files)]
    # Work backwards: the last file holds the kernel alone.
    sizes: list[tuple[int, int, int]] = [(0, 0, 0)] * files
    tail = kernel_data
    tail_plain_crc = zlib.crc32(b"\0" * kernel_size)
    tail_plain_size = kernel_size
    headers: list[bytes] = [b""] * files
    for i in range(files - 1, -1, -1):
        headers[i] = _local_header(names[i], tail_plain_crc, len(tail), tail_plain_size)
        sizes[i] = (tail_plain_crc, len(tail), tail_plain_size)
        if i:
            quoted = headers[i]
            block = struct.pack("<BHH", 0, len(quoted), len(quoted) ^ 0xFFFF)  # stored, not final
            tail = block + quoted + tail
            # CRC of the quoted header followed by everything it already decompresses to.
            tail_plain_crc = zlib.crc32(b"\0" * tail_plain_size, zlib.crc32(quoted))
            tail_plain_size += len(quoted)
    body = bytearray()
    offsets = []
    first = headers[0]
    offsets.append(0)
    body += first
    # File 0's data is the whole chain: quote(header1) header1 quote(header2) ... kernel.
    for i in range(1, files):
        body += struct.pack("<BHH", 0, len(headers[i]), len(headers[i]) ^ 0xFFFF)
        offsets.append(len(body))
        body += headers[i]
    body += kernel_data
    central = b"".join(_central(names[i], *sizes[i], offsets[i]) for i in range(files))
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, files, files, len(central), len(body), 0)
    return bytes(body) + central + end


def test_quoted_overlap_bomb_is_named_an_overlap_not_truncated() -> None:
    bomb = quoted_overlap_bomb()
    with zipfile.ZipFile(__import__("io").BytesIO(bomb)) as zf:
        assert len(zf.infolist()) == 40  # a real zip: the directory reads
    verdict = classify_bytes(bomb, "zip")
    assert verdict.error == "zip-overlap"
    assert not verdict.case_file


def test_password_protected_odt_is_encrypted_not_malformed() -> None:
    # ODF 1.2 part 3, 3.8: encrypted parts are listed in the manifest with <manifest:encryption-data>;
    # their bytes are ciphertext. Built to that layout (LibreOffice writes the same structure).
    plain = documents.make_odt(["Keira Dunmore, NHS number 943 476 5919"])
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        b' manifest:version="1.2">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" manifest:size="1000">'
        b'<manifest:encryption-data'
        b' manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k"'
        b' manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc"'
        b' manifest:initialisation-vector="AAAA"/><manifest:key-derivation manifest:key-derivation-name="PBKDF2"'
        b' manifest:key-size="32" manifest:iteration-count="100000" manifest:salt="AAAA"/></manifest:encryption-data>'
        b"</manifest:file-entry></manifest:manifest>"
    )
    data = documents.replace_member(plain, "META-INF/manifest.xml", manifest)
    data = documents.replace_member(data, "content.xml", os.urandom(1000))
    for name in ("styles.xml", "meta.xml"):
        data = documents.replace_member(data, name, os.urandom(600))
    assert classify_bytes(data, "odt").error == "encrypted"
