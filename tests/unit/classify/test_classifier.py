"""End to end: classify_file over real documents of every format, every reason, archives and JSON output."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import json_format

from agent.classify import (
    ClassifierPolicy,
    InMemoryLookup,
    Verdict,
    analyse_protected,
    classify_bytes,
    classify_file,
)
from caseguard.v1 import events_pb2
from tests.unit.classify import documents, synthetic
from tests.unit.classify.documents import LABEL_GUID, msip_properties


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def case_paragraphs(rng: random.Random) -> list[str]:
    return synthetic.case_file_paragraphs(rng, paragraphs=15, reference="CS-310245")


def rows_of(paragraphs: list[str]) -> list[list[str]]:
    return [[p] for p in paragraphs]


MAKERS: dict[str, Callable[[list[str]], bytes]] = {
    "docx": documents.make_docx,
    "xlsx": lambda p: documents.make_xlsx(rows_of(p)),
    "pptx": lambda p: documents.make_pptx([p[:5], p[5:]]),
    "odt": documents.make_odt,
    "ods": lambda p: documents.make_ods(rows_of(p)),
    "pdf": documents.make_pdf,
    "rtf": documents.make_rtf,
    "txt": lambda p: "\n".join(p).encode(),
    "md": lambda p: ("# Case record\n\n" + "\n\n".join(p)).encode(),
    "csv": lambda p: "\n".join(f'"{x}"' for x in p).encode("utf-8-sig"),
}


@pytest.mark.parametrize("extension", sorted(MAKERS))
def test_case_file_found_by_content_in_every_format(
    tmp_path: Path, case_paragraphs: list[str], policy: ClassifierPolicy, extension: str
) -> None:
    data = MAKERS[extension](case_paragraphs)
    verdict = classify_file(write(tmp_path, f"record.{extension}", data), policy)
    assert verdict.case_file is True
    assert verdict.reasons == ("content",)
    assert verdict.confidence >= 0.5
    assert verdict.identifier_counts["nhs_number"] == 1 and verdict.identifier_counts["case_reference"] == 1
    assert verdict.error is None
    assert verdict.extension == extension
    assert verdict.size == len(data)
    assert verdict.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("extension", sorted(MAKERS))
def test_negatives_in_every_format(tmp_path: Path, rng: random.Random, policy: ClassifierPolicy,
                                   extension: str) -> None:
    for paragraphs in (synthetic.guidance_paragraphs(), synthetic.invoice_paragraphs(rng),
                       synthetic.product_paragraphs(rng), [synthetic.random_words(rng)]):
        verdict = classify_file(write(tmp_path, f"doc.{extension}", MAKERS[extension](paragraphs)), policy)
        assert verdict.case_file is False, paragraphs[0]
        assert verdict.reasons == ()
        assert verdict.confidence < 0.5


def test_exact_match(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_docx(["Minutes of a meeting with no identifiers at all."])
    protected = write(tmp_path, "protected.docx", data)
    lookup = InMemoryLookup()
    lookup.add("store:17", analyse_protected(protected))
    verdict = classify_file(write(tmp_path, "copy.docx", data), policy, lookup)
    assert verdict.case_file is True
    assert verdict.reasons == ("exact",)
    assert verdict.confidence == 1.0
    assert verdict.matched_ref == "store:17"


def test_fingerprint_match_on_converted_excerpt(tmp_path: Path, case_paragraphs: list[str]) -> None:
    lookup = InMemoryLookup()
    lookup.add("store:1", analyse_protected(write(tmp_path, "p.docx", documents.make_docx(case_paragraphs))))
    other = synthetic.case_file_paragraphs(random.Random(5), paragraphs=15)
    lookup.add("store:2", analyse_protected(write(tmp_path, "q.docx", documents.make_docx(other))))
    # A PDF of a few paragraphs without the identity block: no identifiers, so only the fingerprint can tell.
    excerpt = documents.make_pdf(["Extract for supervision", *case_paragraphs[8:12]])
    verdict = classify_file(write(tmp_path, "extract.pdf", excerpt), ClassifierPolicy(), lookup)
    assert verdict.reasons == ("fingerprint",)
    assert verdict.matched_ref == "store:1"
    assert verdict.case_file is True and verdict.confidence >= 0.85


def test_unrelated_document_is_not_a_fingerprint_match(tmp_path: Path, case_paragraphs: list[str]) -> None:
    lookup = InMemoryLookup()
    lookup.add("store:1", analyse_protected(write(tmp_path, "p.docx", documents.make_docx(case_paragraphs))))
    unrelated = synthetic.case_file_paragraphs(random.Random(77), paragraphs=15, with_ids=False)
    verdict = classify_file(write(tmp_path, "u.docx", documents.make_docx(unrelated)), ClassifierPolicy(), lookup)
    assert "fingerprint" not in verdict.reasons
    assert verdict.matched_ref is None


def test_label_reason(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_docx(["Team rota"], custom=msip_properties())
    verdict = classify_file(write(tmp_path, "rota.docx", data), policy)
    assert verdict.reasons == ("label",)
    assert verdict.labels == ("case-confidential",)
    assert verdict.case_file is True


def test_label_from_label_info_only(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_docx(["Team rota"], label_guid=LABEL_GUID)
    assert classify_file(write(tmp_path, "rota.docx", data), policy).labels == ("case-confidential",)


def test_label_in_pdf_saved_from_office(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_pdf(["Team rota"], info=msip_properties())
    assert classify_file(write(tmp_path, "rota.pdf", data), policy).reasons == ("label",)


def test_unmapped_label_is_ignored(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_docx(["Team rota"], custom=msip_properties(documents.OTHER_GUID, name="Public"))
    verdict = classify_file(write(tmp_path, "rota.docx", data), policy)
    assert verdict.labels == () and verdict.case_file is False


@pytest.mark.parametrize(
    ("extension", "data"),
    [
        ("docx", documents.make_docx(["Team rota"], header="OFFICIAL-SENSITIVE: PERSONAL")),
        ("odt", documents.make_odt(["Team rota"], footer="OFFICIAL SENSITIVE")),
        ("xlsx", documents.make_xlsx([["Team rota"]], header="OFFICIAL-SENSITIVE")),
        ("pdf", documents.make_pdf(["Team rota"], footer="OFFICIAL-SENSITIVE")),
        ("rtf", documents.make_rtf(["Team rota"], header="PROTECT - PERSONAL")),
        ("txt", b"RESTRICTED\nTeam rota\n"),
    ],
)
def test_marking_reason(tmp_path: Path, policy: ClassifierPolicy, extension: str, data: bytes) -> None:
    verdict = classify_file(write(tmp_path, f"rota.{extension}", data), policy)
    assert verdict.reasons == ("marking",)
    assert len(verdict.markings) == 1
    assert verdict.case_file is True


def test_reasons_combine_and_raise_confidence(tmp_path: Path, case_paragraphs: list[str],
                                              policy: ClassifierPolicy) -> None:
    plain = classify_file(write(tmp_path, "a.docx", documents.make_docx(case_paragraphs)), policy)
    marked = classify_file(write(tmp_path, "b.docx", documents.make_docx(
        case_paragraphs, header="OFFICIAL-SENSITIVE", custom=msip_properties())), policy)
    assert marked.reasons == ("label", "marking", "content")
    assert marked.confidence > plain.confidence


def test_zip_holding_a_protected_file_is_an_exact_match(tmp_path: Path, policy: ClassifierPolicy) -> None:
    data = documents.make_docx(["Nothing identifying here."])
    lookup = InMemoryLookup()
    lookup.add("store:9", analyse_protected(write(tmp_path, "protected.docx", data)))
    archive = documents.make_zip({"photos/cat.txt": b"meow", "docs/minutes.docx": data})
    verdict = classify_file(write(tmp_path, "backup.zip", archive), policy, lookup)
    assert verdict.reasons == ("exact",)
    assert verdict.matched_ref == "store:9"
    assert verdict.extension == "zip" and verdict.sha256 == hashlib.sha256(archive).hexdigest()


def test_case_file_inside_a_zip_inside_a_zip(tmp_path: Path, case_paragraphs: list[str],
                                             policy: ClassifierPolicy) -> None:
    inner = documents.make_zip({"record.pdf": documents.make_pdf(case_paragraphs)})
    outer = documents.make_zip({"readme.txt": b"holiday photos", "more.zip": inner})
    verdict = classify_file(write(tmp_path, "outer.zip", outer), policy)
    assert verdict.case_file is True
    assert verdict.reasons == ("content",)
    assert verdict.identifier_counts["nhs_number"] == 1
    assert verdict.error is None


def test_case_file_beyond_the_depth_limit_is_reported_not_read(case_paragraphs: list[str],
                                                               policy: ClassifierPolicy) -> None:
    level = documents.make_zip({"record.txt": "\n".join(case_paragraphs).encode()})
    for _ in range(policy.limits.max_depth):
        level = documents.make_zip({"inner.zip": level})
    verdict = classify_bytes(level, "zip", policy)
    assert verdict.error == "zip-depth-exceeded"
    assert verdict.case_file is False


def test_archive_keeps_good_members_when_one_is_broken(case_paragraphs: list[str], policy: ClassifierPolicy) -> None:
    archive = documents.make_zip({"broken.docx": b"PK\x03\x04 not really", "notes.txt": "\n".join(
        case_paragraphs).encode()})
    verdict = classify_bytes(archive, "zip", policy)
    assert verdict.case_file is True
    assert verdict.error == "truncated"


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = classify_file(tmp_path / "gone.docx")
    assert (missing.error, missing.case_file, missing.sha256, missing.extension) == ("not-found", False, "", "docx")
    assert classify_file(tmp_path).error == "unreadable"  # a directory


def test_json_line(tmp_path: Path, case_paragraphs: list[str], policy: ClassifierPolicy) -> None:
    path = write(tmp_path, "record.docx", documents.make_docx(case_paragraphs, header="OFFICIAL-SENSITIVE"))
    line = classify_file(path, policy).to_json(str(path))
    assert "\n" not in line
    obj = json.loads(line)
    assert {"path", "case_file", "confidence", "reasons", "error"} <= obj.keys()
    assert obj["path"] == str(path)
    assert obj["case_file"] is True
    assert obj["reasons"] == ["marking", "content"]
    assert obj["error"] is None
    assert obj["markings"] == ["OFFICIAL-SENSITIVE"]
    assert obj["identifier_counts"]["nhs_number"] == 1
    assert "Keira" not in line and "CS-310245" not in line  # counts, never the identifiers themselves


def test_match_body_fits_the_wire_contract(case_paragraphs: list[str], policy: ClassifierPolicy) -> None:
    verdict = classify_bytes(documents.make_docx(case_paragraphs), "docx", policy)
    message = json_format.ParseDict(verdict.to_match_body("ab" * 32), events_pb2.CaseFileMatch(),
                                    ignore_unknown_fields=False, max_recursion_depth=10)
    assert list(message.reasons) == ["content"]
    assert message.identifier_counts["nhs_number"] == 1
    assert message.extension == "docx"


def test_verdict_for_unknown_binary(tmp_path: Path) -> None:
    verdict = classify_file(write(tmp_path, "photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4))
    assert verdict.error == "unsupported-format"
    assert isinstance(verdict, Verdict) and verdict.case_file is False


def test_analyse_protected_archive_unions_member_fingerprints(tmp_path: Path, case_paragraphs: list[str]) -> None:
    a = analyse_protected(write(tmp_path, "a.docx", documents.make_docx(case_paragraphs[:8])))
    b = analyse_protected(write(tmp_path, "b.txt", "\n".join(case_paragraphs[8:]).encode()))
    both = analyse_protected(write(tmp_path, "ab.zip", documents.make_zip({
        "a.docx": documents.make_docx(case_paragraphs[:8]), "b.txt": "\n".join(case_paragraphs[8:]).encode()})))
    assert both.fingerprints == a.fingerprints | b.fingerprints
    assert both.error is None and a.scheme == both.scheme


def test_in_memory_lookup_picks_best_containment() -> None:
    lookup = InMemoryLookup(digests={"AB" * 32: "x"}, fingerprints={"one": {1, 2, 3}, "two": {3, 4, 5, 6}})
    assert lookup.by_sha256("ab" * 32) == "x"
    assert lookup.best_fingerprint_match(frozenset({3, 4, 5, 9})) == ("two", 0.75)
    assert lookup.best_fingerprint_match(frozenset({42})) is None
    assert InMemoryLookup().has_fingerprints() is False
