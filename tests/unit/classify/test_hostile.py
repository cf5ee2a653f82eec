"""Hostile and broken files: each comes back as a verdict with an error reason, quickly and in bounded memory.

Timing is not asserted (shared CI machines); the bounds are, through the reasons they produce.
"""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.classify import ClassifierPolicy, Limits, Verdict, classify_bytes, classify_file
from agent.classify.zipread import zip_entry_count
from tests.unit.classify import documents

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"
)


def zeros_member_zip(size: int, name: str = "zeros.txt") -> bytes:
    """A zip holding ``size`` zero bytes, written in a stream (about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z, z.open(name, "w", force_zip64=True) as member:
        chunk = bytes(1 << 20)
        for _ in range(size >> 20):
            member.write(chunk)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zeros_member_zip(64 << 20)


def rewrite_sizes(archive: bytes, *, uncompressed: int | None = None, compressed: int | None = None) -> bytes:
    """Rewrite the sizes of the only member in its central-directory and local headers (non-zip64 only)."""
    data = bytearray(archive)
    for signature, base in ((b"PK\x01\x02", 20), (b"PK\x03\x04", 18)):
        at = data.find(signature)
        if compressed is not None:
            struct.pack_into("<I", data, at + base, compressed)
        if uncompressed is not None:
            struct.pack_into("<I", data, at + base + 4, uncompressed)
    return bytes(data)


def stored_zeros_zip(size: int) -> bytes:
    """A zip with ``size`` zero bytes deflated, without zip64 records (so sizes sit in plain fields)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.txt", bytes(size))
    return out.getvalue()


def judged(data: bytes, extension: str, policy: ClassifierPolicy | None = None) -> Verdict:
    tracemalloc.start()
    try:
        verdict = classify_bytes(data, extension, policy or ClassifierPolicy())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(verdict.case_file, bool)
    assert peak < 40 << 20, f"peak {peak} bytes"
    return verdict


def test_zip_bomb_refused_on_ratio(bomb: bytes) -> None:
    verdict = judged(bomb, "zip")
    assert verdict.error == "zip-ratio-exceeded"
    assert verdict.case_file is False


def test_header_understating_the_size_stops_at_the_declared_size() -> None:
    # The header claims 900 kB; zipfile stops there and the CRC no longer matches: a bounded, failed read.
    liar = rewrite_sizes(stored_zeros_zip(8 << 20), uncompressed=900_000)
    assert judged(liar, "zip").error == "corrupt"


def test_header_overstating_the_compressed_size_is_caught_before_decompressing() -> None:
    # Declared 8 MiB from 2 MiB "compressed" looks like a mild 4:1, so the ratio check would let it through;
    # but 2 MiB of data cannot fit before the central directory: the member overlaps it (zip-overlap, fatal).
    liar = rewrite_sizes(stored_zeros_zip(8 << 20), compressed=2 << 20)
    strict = ClassifierPolicy(limits=Limits(ratio_floor_bytes=64 * 1024, max_ratio=20))
    assert judged(liar, "zip", strict).error == "zip-overlap"
    assert judged(liar, "zip").error == "zip-overlap"


def test_honest_bomb_is_refused_from_its_header() -> None:
    assert judged(stored_zeros_zip(8 << 20), "zip").error == "zip-ratio-exceeded"


def test_docx_with_a_bomb_part() -> None:
    bombed = documents.replace_member(documents.make_docx(["x"]), "word/document.xml", b"<a/>" + bytes(30 << 20))
    assert judged(bombed, "docx").error == "zip-ratio-exceeded"


def nested(levels: int, fanout: int, bottom: bytes) -> bytes:
    level = bottom
    for depth in range(levels):
        level = documents.make_zip({f"l{depth}_{i}.zip": level for i in range(fanout)})
    return level


def test_nested_zip_bomb_stops_at_depth() -> None:
    verdict = judged(nested(6, 10, zeros_member_zip(16 << 20)), "zip")
    assert verdict.error == "zip-depth-exceeded"


def test_nested_zip_bomb_with_generous_depth_still_stops() -> None:
    policy = ClassifierPolicy(limits=Limits(max_depth=20))
    verdict = judged(nested(6, 10, zeros_member_zip(16 << 20)), "zip", policy)
    assert verdict.error in {"zip-ratio-exceeded", "zip-total-exceeded", "zip-too-many-members"}


def test_member_count_is_bounded() -> None:
    many = documents.make_zip({f"m{i}.txt": b"x" for i in range(300)}, compression=zipfile.ZIP_STORED)
    verdict = judged(many, "zip", ClassifierPolicy(limits=Limits(max_members=100)))
    assert verdict.error == "zip-too-many-members"


def test_forged_entry_count_is_refused_before_parsing() -> None:
    archive = bytearray(documents.make_zip({"a.txt": b"x"}))
    at = archive.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", archive, at + 8, 0xFFFE, 0xFFFE)
    assert zip_entry_count(bytes(archive)) == 0xFFFE
    assert judged(bytes(archive), "zip").error == "zip-too-many-members"


def test_total_decompressed_bytes_are_bounded() -> None:
    members = {f"m{i}.txt": random.Random(i).randbytes(300_000) for i in range(10)}
    verdict = judged(documents.make_zip(members), "zip", ClassifierPolicy(limits=Limits(max_total_bytes=1 << 20)))
    assert verdict.error == "zip-total-exceeded"


def test_billion_laughs_in_a_docx() -> None:
    bombed = documents.replace_member(documents.make_docx(["x"]), "word/document.xml", BILLION_LAUGHS)
    verdict = judged(bombed, "docx")
    assert verdict.error == "xml-forbidden-entity"
    assert verdict.case_file is False


def test_external_entity_in_custom_properties() -> None:
    xxe = (b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<Properties>&x;</Properties>")
    data = documents.make_docx(["Care plan for Keira"], custom={"a": "b"})
    assert judged(documents.replace_member(data, "docProps/custom.xml", xxe), "docx").error == "xml-forbidden-entity"


def test_malformed_xml() -> None:
    data = documents.replace_member(documents.make_docx(["x"]), "word/document.xml", b"<w:document><w:body>")
    assert judged(data, "docx").error == "xml-malformed"


def test_truncated_docx() -> None:
    data = documents.make_docx(["x"] * 50)
    assert judged(data[: len(data) * 2 // 3], "docx").error == "truncated"


def test_truncated_pdf() -> None:
    data = documents.make_pdf(["Care plan for Keira"] * 30)
    assert judged(data[: len(data) // 2], "pdf").error == "truncated"


def test_corrupt_pdf_with_an_ending() -> None:
    assert judged(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nbroken\n%%EOF\n", "pdf").error == "corrupt"


def test_encrypted_zip() -> None:
    data = documents.set_encrypted_flag(documents.make_zip({"notes.txt": b"Child protection plan"}))
    verdict = judged(data, "zip")
    assert verdict.error == "encrypted"
    assert verdict.case_file is False


def test_encrypted_pdf() -> None:
    assert judged(documents.make_pdf(["Care plan"], user_password="s3cret"), "pdf").error == "encrypted"


def test_password_protected_office_file() -> None:
    # Office writes password-protected documents as an OLE compound file with an EncryptedPackage stream.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500) + "EncryptedPackage".encode("utf-16-le") + bytes(500)
    assert judged(ole, "docx").error == "encrypted"
    # The OLE signature followed by zeros is no compound file at all: olefile cannot read its header.
    assert judged(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000), "doc").error == "corrupt"


@pytest.mark.parametrize("extension", ["docx", "xlsx", "pptx", "odt", "ods", "pdf", "rtf"])
def test_garbage_bytes_with_a_document_name(extension: str) -> None:
    verdict = judged(random.Random(extension).randbytes(20_000), extension)
    assert verdict.error == "format-mismatch"
    assert len(verdict.sha256) == 64


def test_zip_without_document_parts_named_docx_is_walked_as_archive() -> None:
    data = documents.make_zip({"notes.txt": b"nothing much"})
    assert judged(data, "docx").error is None


def test_time_budget() -> None:
    def clock() -> Iterator[float]:
        yield 0.0
        while True:
            yield 1000.0

    ticks = clock()
    verdict = classify_bytes(documents.make_docx(["Care plan"] * 10), "docx", clock=lambda: next(ticks))
    assert verdict.error == "time-budget"
    assert isinstance(verdict.case_file, bool)


def test_large_file_is_hashed_but_not_extracted(tmp_path: Path) -> None:
    path = tmp_path / "big.docx"
    path.write_bytes(documents.make_docx(["Care plan"]) + bytes(200_000))
    verdict = classify_file(path, ClassifierPolicy(limits=Limits(max_read_bytes=100_000)))
    assert verdict.error == "too-large"
    assert len(verdict.sha256) == 64 and verdict.size > 200_000


def test_huge_file_beyond_hash_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.bin"
    path.write_bytes(bytes(300_000))
    verdict = classify_file(path, ClassifierPolicy(limits=Limits(max_read_bytes=100_000, max_hash_bytes=200_000)))
    assert verdict.error == "too-large"
    assert verdict.sha256 == ""


def test_large_text_file_prefix_is_still_scanned(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    text = "OFFICIAL-SENSITIVE\nCase notes\n" + "filler line\n" * 20_000
    path.write_text(text)
    verdict = classify_file(path, ClassifierPolicy(limits=Limits(max_read_bytes=10_000)))
    assert verdict.error == "too-large"
    assert verdict.markings == ("OFFICIAL-SENSITIVE",)
