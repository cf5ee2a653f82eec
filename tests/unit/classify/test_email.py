"""Emails (issue 13, finding 3): .eml and .mbox built with the standard library's email package, and
Outlook .msg in a real Outlook container from a public corpus. Every MIME part is decoded; attachments
are judged like archive members."""

from __future__ import annotations

import random
import shutil
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import olefile  # type: ignore[import-untyped]
import pytest

from agent.classify import ClassifierPolicy, InMemoryLookup, Limits, analyse_protected, classify_bytes, classify_file
from tests.unit.classify import documents, synthetic

POLICY = ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",))
CORPUS = Path(__file__).parent / "corpus"
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def _note(rng: random.Random) -> str:
    return "\n".join(synthetic.case_file_paragraphs(rng, paragraphs=4, reference="CS-310245"))


def _message(subject: str = "Update") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Social Worker <sw@council.example>"
    msg["To"] = "Team <team@council.example>"
    msg["Subject"] = subject
    return msg


def test_base64_body_is_read(rng: random.Random) -> None:
    msg = _message()
    msg.set_content(_note(rng), cte="base64")
    raw = msg.as_bytes(policy=SMTP)
    assert b"Child:" not in raw  # the note is only there in base64
    verdict = classify_bytes(raw, "eml", POLICY)
    assert verdict.case_file and "content" in verdict.reasons
    assert verdict.identifier_counts.get("nhs_number") == 1


def test_quoted_printable_soft_break_inside_an_nhs_number_is_joined(rng: random.Random) -> None:
    number = synthetic.nhs_number(rng, grouped="")
    body = ""
    for pad in range(80):
        msg = _message()
        text = "x" * pad + f" NHS {number} for the child on the child protection plan; social worker visit. " \
               "Date of birth 04/05/2016. Care plan and strategy meeting notes follow."
        msg.set_content(text, cte="quoted-printable")
        body = msg.as_string()
        if number not in body:  # this padding puts a soft line break ("=\n") inside the number
            break
    assert number not in body, "the encoder should have split the number with a soft break"
    verdict = classify_bytes(body.encode(), "eml", POLICY)
    assert verdict.identifier_counts.get("nhs_number") == 1
    assert verdict.case_file


def test_an_attached_case_record_makes_the_email_a_case_file(rng: random.Random) -> None:
    record = documents.make_docx(synthetic.case_file_paragraphs(rng, paragraphs=10, reference="CS-310245"))
    msg = _message("For tomorrow")
    msg.set_content("Please see attached, thanks.")
    msg.add_attachment(record, maintype=DOCX_TYPE[0], subtype=DOCX_TYPE[1], filename="notes.docx")
    verdict = classify_bytes(msg.as_bytes(), "eml", POLICY)
    assert verdict.case_file and "content" in verdict.reasons
    assert verdict.identifier_counts.get("case_reference") == 1


def test_an_attached_protected_document_is_an_exact_match(rng: random.Random, tmp_path: Path) -> None:
    record = documents.make_docx(synthetic.case_file_paragraphs(rng, paragraphs=10))
    protected = tmp_path / "record.docx"
    protected.write_bytes(record)
    lookup = InMemoryLookup()
    lookup.add("ref-1", analyse_protected(protected))
    msg = _message()
    msg.set_content("Sending from home.")
    msg.add_attachment(record, maintype=DOCX_TYPE[0], subtype=DOCX_TYPE[1], filename="x.docx")
    verdict = classify_bytes(msg.as_bytes(), "eml", POLICY, lookup)
    assert "exact" in verdict.reasons and verdict.matched_ref == "ref-1"


def test_a_forwarded_message_inside_an_mbox_is_read(rng: random.Random) -> None:
    inner = _message("Original")
    inner.set_content(_note(rng), cte="base64")
    outer = _message("Fwd: Original")
    outer.set_content("Forwarding as discussed.")
    outer.add_attachment(inner)  # message/rfc822
    plain = _message("Lunch")
    plain.set_content("Sandwiches at one?")
    mbox = b"".join(b"From sw@council.example Mon Mar  3 10:00:00 2025\n" + m.as_bytes() + b"\n"
                    for m in (plain, outer))
    verdict = classify_bytes(mbox, "mbox", POLICY)
    assert verdict.case_file and verdict.identifier_counts.get("nhs_number") == 1


def test_a_password_protected_attachment_is_reported_unread() -> None:
    msg = _message()
    msg.set_content("Password to follow by text.")
    locked = documents.set_encrypted_flag(documents.make_zip({"notes.txt": b"x" * 500}))
    msg.add_attachment(locked, maintype="application", subtype="zip", filename="notes.zip")
    verdict = classify_bytes(msg.as_bytes(), "eml", POLICY)
    assert not verdict.case_file and verdict.error == "encrypted" and verdict.uninspectable


def test_attachments_count_against_the_member_limit() -> None:
    msg = _message()
    msg.set_content("Many small files.")
    for i in range(12):
        msg.add_attachment(b"hello", maintype="text", subtype="plain", filename=f"{i}.txt")
    tight = ClassifierPolicy(limits=Limits(max_members=5))
    assert classify_bytes(msg.as_bytes(), "eml", tight).error == "zip-too-many-members"


def _msg_with_body(tmp_path: Path, text: str) -> Path:
    """strangeDate.msg (a real Outlook file) with its UTF-16 body stream rewritten in place, same size."""
    path = tmp_path / "note.msg"
    shutil.copy(CORPUS / "msg-extractor" / "strangeDate.msg", path)
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        size = ole.get_size("__substg1.0_1000001F")
        data = text.encode("utf-16-le")
        assert len(data) <= size
        ole.write_stream("__substg1.0_1000001F", data + " ".encode("utf-16-le") * ((size - len(data)) // 2))
    return path


def test_outlook_msg_body_is_read(rng: random.Random, tmp_path: Path) -> None:
    original = classify_file(CORPUS / "msg-extractor" / "strangeDate.msg", POLICY)
    assert not original.case_file and original.error is None
    verdict = classify_file(_msg_with_body(tmp_path, _note(rng)[:2500]), POLICY)
    assert verdict.case_file and verdict.identifier_counts.get("nhs_number") == 1


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".msg")),
                         ids=lambda p: p.name)
def test_public_corpus_emails_are_not_case_files(path: Path) -> None:
    verdict = classify_file(path, POLICY)
    assert not verdict.case_file
    assert verdict.error != "extract-failed"


def test_email_reader_never_raises_on_garbage() -> None:
    for blob in (b"", b"From: x\n\n" + bytes(range(256)) * 20, b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n"):
        classify_bytes(blob, "eml", POLICY)
