"""Issue 13's findings 1, 2, 7 and 10: documents the classifier used to miss or misjudge.

Each test is a document a user would meet (a short note, a PDF export, a caseload table, a zip) and
asserts the verdict a user would see.
"""

from __future__ import annotations

import random
import zipfile

from agent.classify import ClassifierPolicy, classify_bytes
from agent.classify.identifiers import scan_identifiers
from tests.unit.classify import documents, synthetic

POLICY = ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",))


def _nhs(rng: random.Random) -> str:
    return synthetic.nhs_number(rng, grouped="")


def test_one_nhs_number_written_three_times_still_counts(rng: random.Random) -> None:
    number = synthetic.nhs_number(rng)
    note = "\n".join([
        f"Child: Keira Dunmore, NHS number {number}",
        "Date of birth: 14/03/2016",
        f"The social worker checked NHS number {number} with the GP before the strategy meeting.",
        f"Health visitor confirmed {number} is on the child protection plan record.",
        "Mother and father attended the core group; the care plan was reviewed.",
    ])
    verdict = classify_bytes(note.encode(), "txt", POLICY)
    assert verdict.identifier_counts.get("nhs_number") == 1
    assert verdict.case_file, verdict


def test_pdf_export_with_the_nhs_number_in_every_page_header_is_a_case_file(rng: random.Random) -> None:
    number = synthetic.nhs_number(rng)
    paragraphs = synthetic.case_file_paragraphs(rng, paragraphs=40, with_ids=False)
    pdf = documents.make_pdf(paragraphs, header=f"Keira Dunmore  DOB 14/03/2016  NHS {number}", lines_per_page=40)
    verdict = classify_bytes(pdf, "pdf", POLICY)
    assert verdict.identifier_counts.get("nhs_number") == 1
    assert verdict.case_file, verdict


def test_caseload_table_pdf_keeps_its_nhs_numbers(rng: random.Random) -> None:
    # pypdf joins a table's cells with single spaces: a date's year then runs into the NHS number.
    rows = ["Caseload for the allocated social worker, looked after children team"]
    for i in range(6):
        rows.append(f"{i + 1} {synthetic.person(rng)} {rng.randrange(1, 28):02d}/03/2016 {_nhs(rng)} "
                    f"Child in need plan review 0{i + 1}/11/2025")
    verdict = classify_bytes(documents.make_pdf(rows), "pdf", POLICY)
    assert verdict.identifier_counts.get("nhs_number") == 6
    assert verdict.case_file, verdict


def test_compact_nhs_number_straight_after_a_date_is_found() -> None:
    hits = scan_identifiers(b"DOB 14/03/2016 9990122407 allocated")
    assert hits.nhs_numbers == frozenset({"9990122407"})
    assert hits.nhs_candidates == 1


def test_numbers_glued_to_other_digits_are_still_not_nhs_numbers() -> None:
    assert scan_identifiers(b"ref 19990122407 and 99901224071").nhs_numbers == frozenset()


def test_invoice_numbers_still_do_not_count(rng: random.Random) -> None:
    # Many distinct ten-digit numbers of which few pass the checksum are some other numbering.
    text = "\n".join(synthetic.invoice_paragraphs(rng, lines=60)) + "\nchild social worker care plan"
    verdict = classify_bytes(text.encode(), "txt", POLICY)
    assert "nhs_number" not in verdict.identifier_counts
    assert not verdict.case_file


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return out.getvalue()


def test_a_highly_compressible_member_first_does_not_hide_the_case_file_after_it(rng: random.Random) -> None:
    case = documents.make_docx(synthetic.case_file_paragraphs(rng, paragraphs=10, reference="CS-310245"))
    archive = _zip([("export.csv", b"0," * (4 << 20)), ("notes.docx", case)])
    verdict = classify_bytes(archive, "zip", POLICY)
    assert verdict.case_file, verdict
    assert verdict.error == "zip-ratio-exceeded"  # the CSV is still reported as unread


def test_archive_wide_total_still_ends_the_walk(rng: random.Random) -> None:
    from agent.classify import Limits

    case = documents.make_docx(synthetic.case_file_paragraphs(rng, paragraphs=10, reference="CS-310245"))
    tight = ClassifierPolicy(reference_patterns=POLICY.reference_patterns,
                             limits=Limits(max_total_bytes=2 << 20, max_ratio=10_000))
    archive = _zip([("a.csv", b"0," * (3 << 20)), ("notes.docx", case)])
    verdict = classify_bytes(archive, "zip", tight)
    assert verdict.error == "zip-total-exceeded"
    assert not verdict.case_file


def test_sensitivity_label_named_official_sensitive_counts_without_a_label_map() -> None:
    data = documents.make_docx(["Meeting notes", "Nothing else here."],
                               custom=documents.msip_properties(documents.OTHER_GUID,
                                                                           name="OFFICIAL-SENSITIVE"))
    verdict = classify_bytes(data, "docx", ClassifierPolicy())
    assert verdict.case_file and verdict.reasons == ("label",)
    assert verdict.labels == ("OFFICIAL-SENSITIVE",)


def test_label_map_can_switch_a_default_name_off_and_add_a_guid() -> None:
    props = documents.msip_properties(documents.OTHER_GUID, name="Confidential")
    data = documents.make_docx(["Meeting notes"], custom=props)
    assert classify_bytes(data, "docx", ClassifierPolicy()).labels == ("Confidential",)
    off = ClassifierPolicy(label_map={"confidential": ""})
    assert classify_bytes(data, "docx", off).labels == ()
    by_guid = ClassifierPolicy(label_map={"confidential": "", documents.OTHER_GUID: "tenant-label"})
    assert classify_bytes(data, "docx", by_guid).labels == ("tenant-label",)


def test_public_guidance_that_mentions_a_marking_is_not_marked() -> None:
    text = ("Handling case records\n"
            "Documents marked OFFICIAL-SENSITIVE must not be copied to memory sticks.\n"
            "Ask your manager if unsure.\n")
    verdict = classify_bytes(text.encode(), "txt", POLICY)
    assert verdict.markings == ()
    assert not verdict.case_file


def test_a_marking_on_a_line_of_its_own_still_counts() -> None:
    text = "OFFICIAL-SENSITIVE: PERSONAL\nMeeting notes\nNothing else here.\n"
    verdict = classify_bytes(text.encode(), "txt", POLICY)
    assert verdict.markings == ("OFFICIAL-SENSITIVE",)
    assert verdict.case_file
