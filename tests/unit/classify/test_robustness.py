"""Damaged documents of every format never raise, and fail with a reason we anticipated."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.classify import ClassifierPolicy, classify_bytes, classify_file
from agent.classify.errors import ALL_REASONS
from tests.unit.classify import documents, synthetic

PARAS = synthetic.case_file_paragraphs(random.Random(1), paragraphs=4, reference="CS-000001")
SEEDS = {
    "docx": documents.make_docx(PARAS, header="OFFICIAL-SENSITIVE", custom=documents.msip_properties()),
    "xlsx": documents.make_xlsx([[p] for p in PARAS], header="OFFICIAL-SENSITIVE"),
    "pptx": documents.make_pptx([PARAS]),
    "odt": documents.make_odt(PARAS, header="OFFICIAL-SENSITIVE"),
    "ods": documents.make_ods([[p] for p in PARAS]),
    "pdf": documents.make_pdf(PARAS),
    "rtf": documents.make_rtf(PARAS, header="PROTECT"),
    "zip": documents.make_zip({"a.docx": documents.make_docx(PARAS), "b.txt": b"notes"}),
}


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    extension = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[extension])
    kind = draw(st.sampled_from(["flip", "truncate", "splice"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 20))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif kind == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    else:
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + draw(st.integers(1, 200))] = draw(st.binary(max_size=200))
    return extension, bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_documents_give_a_verdict_with_a_known_reason(sample: tuple[str, bytes]) -> None:
    extension, data = sample
    verdict = classify_bytes(data, extension, ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",)))
    assert isinstance(verdict.case_file, bool)
    assert 0.0 <= verdict.confidence <= 1.0
    # "extract-failed" is the last-resort catch-all: reaching it means a failure path we did not map.
    assert verdict.error is None or (verdict.error in ALL_REASONS and verdict.error != "extract-failed")


def test_unanticipated_failure_becomes_a_verdict_and_logs_no_content(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_reader(*args: object) -> None:
        raise KeyError("Keira Dunmore")  # a library error quoting document text

    monkeypatch.setattr("agent.classify.extract.read_rtf", broken_reader)
    with caplog.at_level(logging.WARNING):
        verdict = classify_bytes(SEEDS["rtf"], "rtf")
    assert verdict.error == "extract-failed"
    assert "KeyError" in caplog.text and "Keira" not in caplog.text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert classify_file(fifo).error == "unreadable"  # opening it would block until a writer appears
