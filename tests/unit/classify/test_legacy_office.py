"""Legacy Office (issue 13, finding 4): .doc, .xls and .ppt written by real LibreOffice from a synthetic
case file, and the PDF LibreOffice exports from it. LibreOffice (Debian libreoffice-writer-nogui,
-calc-nogui, -impress-nogui; scripts/setup.sh installs them) must be present: without it these tests fail."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import olefile  # type: ignore[import-untyped]
import pytest

from agent.classify import ClassifierPolicy, classify_bytes, classify_file
from tests.unit.classify import documents, synthetic

POLICY = ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",))


def _convert(sources: list[Path], fmt: str, out: Path, profile: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.fail("LibreOffice missing: apt-get install -y libreoffice-writer-nogui libreoffice-calc-nogui "
                    "libreoffice-impress-nogui (scripts/setup.sh)", pytrace=False)
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt,
         "--outdir", str(out), *map(str, sources)],
        check=True, capture_output=True, timeout=240,
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    rng = random.Random(4242)
    root = tmp_path_factory.mktemp("lo")
    profile = root / "profile"
    src = root / "src"
    src.mkdir()
    paragraphs = synthetic.case_file_paragraphs(rng, paragraphs=8, reference="CS-310245")
    (src / "record.docx").write_bytes(documents.make_docx(paragraphs, header="OFFICIAL-SENSITIVE"))
    rows: list[list[object]] = [["Child", "Date of birth", "NHS number", "Case reference", "Status"]]
    for _ in range(6):
        rows.append([synthetic.person(rng), f"{rng.randrange(1, 28):02d}/03/2016",
                     int(synthetic.nhs_number(rng, grouped="")), f"CS-{rng.randrange(10**6):06d}",
                     "child protection plan, social worker allocated"])
    (src / "caseload.xlsx").write_bytes(documents.make_xlsx(rows))
    (src / "review.odp").write_bytes(documents.make_odp([
        ["Looked after child review", paragraphs[0], paragraphs[2]],
        ["Care plan", paragraphs[6], "OFFICIAL-SENSITIVE"],
    ]))
    out = root / "out"
    _convert([src / "record.docx"], "doc", out, profile)
    _convert([src / "caseload.xlsx"], "xls", out, profile)
    _convert([src / "record.docx"], "pdf", out, profile)
    _convert([src / "review.odp"], "ppt", out, profile)
    back = root / "back"
    _convert([out / "record.doc"], "docx", back, profile)
    yield {"doc": out / "record.doc", "xls": out / "caseload.xls", "pdf": out / "record.pdf",
           "ppt": out / "review.ppt", "docx": back / "record.docx"}


@pytest.mark.parametrize("kind", ["doc", "pdf", "docx"])
def test_libreoffice_copies_of_a_case_record_are_case_files(converted: dict[str, Path], kind: str) -> None:
    verdict = classify_file(converted[kind], POLICY)
    assert verdict.case_file and verdict.error is None, verdict
    assert {"content", "marking"} <= set(verdict.reasons)
    assert verdict.identifier_counts["case_reference"] == 1


def test_libreoffice_xls_caseload_is_a_case_file(converted: dict[str, Path]) -> None:
    verdict = classify_file(converted["xls"], POLICY)
    assert verdict.case_file and verdict.error is None, verdict
    assert verdict.identifier_counts["nhs_number"] == 6 and verdict.identifier_counts["case_reference"] == 6


def test_libreoffice_ppt_review_is_a_case_file(converted: dict[str, Path]) -> None:
    verdict = classify_file(converted["ppt"], POLICY)
    assert verdict.case_file and verdict.error is None, verdict
    assert "marking" in verdict.reasons and verdict.identifier_counts["nhs_number"] == 1


def test_a_password_protected_doc_is_encrypted(converted: dict[str, Path], tmp_path: Path) -> None:
    # Word sets FibBase.fEncrypted ([MS-DOC] 2.5.2) on a password-protected document; the text is then
    # ciphertext. The bit set on LibreOffice's file stands for that here.
    locked = tmp_path / "locked.doc"
    shutil.copy(converted["doc"], locked)
    with olefile.OleFileIO(str(locked), write_mode=True) as ole:
        word = bytearray(ole.openstream("WordDocument").read())
        (flags,) = struct.unpack_from("<H", word, 0x0A)
        struct.pack_into("<H", word, 0x0A, flags | 0x0100)
        ole.write_stream("WordDocument", bytes(word))
    verdict = classify_file(locked, POLICY)
    assert verdict.error == "encrypted" and not verdict.case_file and verdict.uninspectable


def test_a_password_protected_docx_is_encrypted(rng: random.Random, tmp_path: Path) -> None:
    import io

    from msoffcrypto.format.ooxml import OOXMLFile  # type: ignore[import-untyped]

    plain = io.BytesIO(documents.make_docx(synthetic.case_file_paragraphs(rng, paragraphs=3)))
    out = io.BytesIO()
    OOXMLFile(plain).encrypt("s3cret", out)  # Office's agile encryption, as Word writes it
    assert classify_bytes(out.getvalue(), "docx", POLICY).error == "encrypted"
