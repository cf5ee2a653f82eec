"""PDFs nobody here wrote (py-pdf/sample-files, see tests/fixtures/pdf/py-pdf-sample-files/README.md):
none is a case file, the password-protected one is reported unjudged as encrypted, and every other
one is read (text layers by pdfium, image-only pages by Tesseract) without an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.classify import ClassifierPolicy, classify_file

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "pdf" / "py-pdf-sample-files"
PDFS = sorted(CORPUS.rglob("*.pdf"))
POLICY = ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",))


def test_the_corpus_is_there() -> None:
    assert len(PDFS) == 29, f"tests/fixtures/pdf/py-pdf-sample-files holds {len(PDFS)} PDFs"


@pytest.mark.parametrize("path", PDFS, ids=[p.name for p in PDFS])
def test_a_public_pdf_is_not_a_case_file_and_is_read(path: Path) -> None:
    verdict = classify_file(path, POLICY)
    assert not verdict.case_file, (verdict.reasons, verdict.confidence)
    if "password" in path.name:
        assert verdict.error == "encrypted" and verdict.uninspectable
    else:
        assert verdict.error is None, verdict.error


def test_the_text_of_a_long_public_pdf_is_read_to_the_end() -> None:
    # GeoTopo: 117 pages of pdfTeX output; a line of its last page must be in what the classifier read.
    import pypdfium2 as pdfium

    from agent.classify.extract import extract
    from agent.classify.limits import DEFAULT_LIMITS, Budget

    data = next(CORPUS.rglob("GeoTopo-komprimiert.pdf")).read_bytes()
    pdf = pdfium.PdfDocument(data)
    pages = len(pdf)
    last = pdf[pages - 1].get_textpage().get_text_range().replace("\r\n", "\n")
    pdf.close()
    line = max(last.splitlines(), key=len)
    assert pages == 117 and len(line) > 20
    result = extract(data, "pdf", Budget(DEFAULT_LIMITS))
    assert result.error is None
    assert line in result.document.body
