"""Case-file classifier throughput on a synthetic corpus.

Builds a mixed corpus (txt, csv, docx, xlsx, pdf, eml with a docx attachment; a third of them case
files) in a temp dir, then measures, in one run:

- text_scan_mb_per_s: the identifier + vocabulary scan (``scan_content``) over plain text, in
  document-sized pieces, MB of UTF-8 per second;
- classify_mb_per_s: ``classify_file`` over the whole corpus (with a protected-store lookup, so
  fingerprints are computed too), MB of file bytes per second;
- sha256_ratio_vs_hashlib: the classifier's read-and-hash path (``read_and_hash``) against plain
  ``hashlib.sha256(path.read_bytes())`` over the same files, as a speed ratio (1.0 = as fast).

- per format: MB/s of ``classify_file``; per file: p99 and maximum seconds;
- recall and false alarms against the corpus labels (case file or not), scans (PNG pages and
  image-only PDFs, read by Tesseract in the extraction worker) included;
- PDF text layers in MB/s, the same PDFs read in one run by pypdf (what the agent used before) and
  by pypdfium2 (what the worker uses now), both in-process, so the ratio is the parser's alone.
- documents from a real writer: LibreOffice converts the corpus's .docx files to .pdf and .doc, its
  .xlsx files to .xls, and one long record (``--long-paragraphs``, about 150 pages) to .pdf. These
  PDFs are what staff have (compressed content streams, embedded fonts); the generated ones above
  are pypdf-written with uncompressed text, the worst case for MB/s of file. ``real_writer_*``:
  classify MB/s over them, per format, the long PDF's seconds and recall/false alarms on them.
- a burst, as the agent judges one: the corpus and LibreOffice's documents handed to the agent's
  ``[egress] classifier_threads`` threads over its default ``[case_files] extraction_workers`` pool,
  against the same files one at a time in this run (``burst_mb_per_s``, ``burst_pdf_mb_per_s`` for
  the PDFs alone, ``burst_vs_one_at_a_time`` and ``burst_pdf_vs_one_at_a_time``).
- public PDFs (tests/fixtures/pdf/py-pdf-sample-files: pdfTeX, LibreOffice, Google Docs, reportlab,
  ImageMagick...): ``public_pdf_mb_per_s`` as the agent judges them (image-only pages read by
  Tesseract), ``public_pdf_mb_per_s_no_ocr`` with OCR off (the "excluding OCR" figure), false
  alarms on them (none is a case file), and pypdf against pypdfium2 on the same files in-process.

Prints a final JSON line: {"classify_mb_per_s", "text_scan_mb_per_s", "sha256_ratio_vs_hashlib",
"mb_per_s_by_format", "file_p99_s", "file_max_s", "recall", "false_alarms", "scan_recall",
"scan_false_alarms", "scan_p50_s", "pdf_text_mb_per_s_pypdf", "pdf_text_mb_per_s_pdfium",
"classifier_peak_rss_mb", "worker_peak_rss_mb", "real_writer_mb_per_s", "real_writer_mb_per_s_by_format",
"real_writer_recall", "real_writer_false_alarms", "long_pdf_pages", "long_pdf_s", "public_pdf_mb_per_s",
"public_pdf_mb_per_s_no_ocr", "public_pdf_false_alarms", "public_pdf_pdfium_vs_pypdf", "burst_mb_per_s",
"burst_pdf_mb_per_s", "burst_vs_one_at_a_time", "burst_pdf_vs_one_at_a_time"}.

The two peak RSS figures: this process (the classifier as the agent runs it) measured before the
in-process pypdf/pypdfium2 comparison, and the largest sandboxed extraction worker (or the Tesseract
it ran), as the workers report it after each job.
Targets: text scanning >= 40 MB/s, hashing ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import logging
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.classify import ClassifierPolicy, InMemoryLookup, analyse_protected, classify_file  # noqa: E402
from agent.classify.content import content_rules, scan_content  # noqa: E402
from agent.classify.filereader import read_and_hash  # noqa: E402
from agent.classify.limits import Budget  # noqa: E402
from agent.config import CaseFilesSettings, EgressSettings  # noqa: E402
from agent.sandbox import configure_default_sandbox, default_sandbox  # noqa: E402
from tests.unit.classify import documents, synthetic  # noqa: E402

POLICY = ClassifierPolicy(reference_patterns=(r"\bCS-\d{6}\b",))
PUBLIC_PDFS = ROOT / "tests" / "fixtures" / "pdf" / "py-pdf-sample-files"


def _paragraphs(rng: random.Random, case: bool, size: int) -> list[str]:
    if case:
        return synthetic.case_file_paragraphs(rng, paragraphs=size, reference=f"CS-{rng.randrange(10**6):06d}")
    kind = rng.randrange(3)
    if kind == 0:
        return synthetic.invoice_paragraphs(rng, lines=size * 3)
    if kind == 1:
        return synthetic.guidance_paragraphs() * max(1, size // 8)
    return [synthetic.random_words(rng, 120) for _ in range(size)]


def _email(paragraphs: list[str]) -> bytes:
    """A message with the first paragraphs as a base64 body and the rest as an attached docx."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "worker@council.example", "team@council.example", "Notes"
    msg.set_content("\n".join(paragraphs[:3]), cte="base64")
    msg.add_attachment(documents.make_docx(paragraphs[3:]), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="notes.docx")
    return msg.as_bytes()


def build_corpus(root: Path, files: int, seed: int) -> list[Path]:
    """Write ``files`` documents of mixed formats and sizes under ``root``; return their paths.

    Every third file (index divisible by 3) is a case file; the rest are not.
    """
    rng = random.Random(seed)
    makers: dict[str, Callable[[list[str]], bytes]] = {
        "txt": lambda p: "\n".join(p).encode(),
        "csv": lambda p: "\n".join(",".join(f'"{c}"' for c in x.split(". ")) for x in p).encode(),
        "docx": documents.make_docx,
        "xlsx": lambda p: documents.make_xlsx([x.split(". ") for x in p]),
        "pdf": documents.make_pdf,
        "eml": _email,
    }
    paths = []
    for i in range(files):
        ext = list(makers)[i % len(makers)]
        size = rng.choice([10, 30, 80, 200])
        path = root / f"doc{i:04d}.{ext}"
        path.write_bytes(makers[ext](_paragraphs(rng, i % 3 == 0, size)))
        paths.append(path)
    return paths


def libreoffice(paths: list[Path], root: Path, long_paragraphs: int, seed: int) -> tuple[list[Path], Path]:
    """LibreOffice's own .pdf and .doc of every .docx in ``paths`` and .xls of every .xlsx, written
    under ``root`` with the same stems (so the labels hold), and a long case record's .pdf."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("bench/classify.py: LibreOffice missing (apt-get install libreoffice-writer-nogui "
                         "libreoffice-calc-nogui, as scripts/setup.sh does)")
    out = root / "lo"
    src = root / "lo-src"
    src.mkdir()
    rng = random.Random(seed)
    long_docx = src / "long0000.docx"
    long_docx.write_bytes(documents.make_docx(synthetic.case_file_paragraphs(
        rng, paragraphs=long_paragraphs, reference="CS-401401")))
    docx = [p for p in paths if p.suffix == ".docx"]
    xlsx = [p for p in paths if p.suffix == ".xlsx"]
    for fmt, sources in (("pdf", [*docx, long_docx]), ("doc", docx), ("xls", xlsx)):
        subprocess.run([soffice, f"-env:UserInstallation=file://{root / 'lo-profile'}", "--headless",
                        "--convert-to", fmt, "--outdir", str(out), *map(str, sources)],
                       check=True, capture_output=True, timeout=900)
    long_pdf = out / "long0000.pdf"
    return sorted(p for p in out.iterdir() if p != long_pdf), long_pdf


def real_writers(paths: list[Path], long_pdf: Path, lookup: InMemoryLookup) -> dict[str, object]:
    """Classify MB/s (best of two passes) and per format over LibreOffice's documents; the long PDF alone."""
    import pypdfium2 as pdfium

    mb, _ = classify_all(paths, lookup)
    detail = per_file(paths, lookup)
    start = time.perf_counter()
    verdict = classify_file(long_pdf, POLICY, lookup)
    long_s = time.perf_counter() - start
    pdf = pdfium.PdfDocument(long_pdf)
    pages = len(pdf)
    pdf.close()
    return {
        "real_writer_mb_per_s": round(mb, 2),
        "real_writer_mb_per_s_by_format": detail["mb_per_s_by_format"],
        "real_writer_recall": detail["recall"],
        "real_writer_false_alarms": detail["false_alarms"],
        "long_pdf_pages": pages,
        "long_pdf_s": round(long_s, 3),
        "long_pdf_case_file": verdict.case_file and verdict.error is None,
    }


def public_pdfs(lookup: InMemoryLookup) -> dict[str, object]:
    """Classify MB/s over the public PDFs (best of two passes), with OCR and without; false alarms;
    and pypdf against pypdfium2 reading the text of those both can open, in this process."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    paths = sorted(PUBLIC_PDFS.rglob("*.pdf"))
    total = sum(p.stat().st_size for p in paths)
    no_ocr = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits, ocr=False))
    alarms = [0]

    def judge(policy: ClassifierPolicy) -> None:
        alarms[0] = sum(classify_file(p, policy, lookup).case_file for p in paths)

    with_ocr = total / best_of(2, lambda: judge(POLICY)) / 1e6
    found = alarms[0]
    without = total / best_of(2, lambda: judge(no_ocr)) / 1e6
    logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
    readable = []
    for path in paths:
        try:
            for page in PdfReader(path).pages:
                page.extract_text()
            pdfium.PdfDocument(path).close()
            readable.append(path)
        except Exception:  # a password or damage: neither figure includes it
            continue
    pypdf_mb, pdfium_mb = pdf_parsers(readable)
    return {
        "public_pdf_mb_per_s": round(with_ocr, 2),
        "public_pdf_mb_per_s_no_ocr": round(without, 2),
        "public_pdf_false_alarms": found,
        "public_pdf_pdfium_vs_pypdf": round(pdfium_mb / pypdf_mb, 1),
    }


def _scan(paragraphs: list[str], fmt: str) -> bytes:
    """``paragraphs`` typed on a 150 dpi grey A4 page, saved as ``fmt`` (PNG, or PDF: image only)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 20)
    y = 75
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 90):
            if y > 1680:
                break
            draw.text((75, y), line, fill=0, font=font)
            y += 30
    out = io.BytesIO()
    image.save(out, fmt, **({"resolution": 150.0} if fmt == "PDF" else {}))
    return out.getvalue()


def build_scans(root: Path, count: int, seed: int) -> list[Path]:
    """``count`` scanned pages (alternately PNG and image-only PDF); every other one a case file."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        ext = "png" if i % 2 == 0 else "pdf"
        path = root / f"scan{i:03d}.{ext}"
        path.write_bytes(_scan(_paragraphs(rng, (i // 2) % 2 == 0, 6), ext.upper()))
        paths.append(path)
    return paths


def scans(paths: list[Path]) -> dict[str, object]:
    """Recall, false alarms and median seconds over the scanned pages (case files: ``(i // 2) % 2 == 0``)."""
    seconds = []
    caught = alarms = cases = 0
    for path in paths:
        start = time.perf_counter()
        verdict = classify_file(path, POLICY)
        seconds.append(time.perf_counter() - start)
        is_case = (int(path.stem.removeprefix("scan")) // 2) % 2 == 0
        cases += is_case
        caught += is_case and verdict.case_file
        alarms += (not is_case) and verdict.case_file
    seconds.sort()
    return {"scan_recall": round(caught / max(1, cases), 3), "scan_false_alarms": alarms,
            "scan_p50_s": round(seconds[len(seconds) // 2], 3)}


def pdf_parsers(paths: list[Path]) -> tuple[float, float]:
    """(pypdf MB/s, pypdfium2 MB/s) reading every page's text layer of ``paths``, in this process."""
    import pypdfium2 as pdfium
    from pypdf import PdfReader

    blobs = [p.read_bytes() for p in paths]
    total = sum(map(len, blobs))

    def with_pypdf() -> None:
        for blob in blobs:
            for page in PdfReader(io.BytesIO(blob)).pages:
                page.extract_text()

    def with_pdfium() -> None:
        for blob in blobs:
            pdf = pdfium.PdfDocument(blob)
            for i in range(len(pdf)):
                pdf[i].get_textpage().get_text_range()
            pdf.close()

    return total / best_of(2, with_pypdf) / 1e6, total / best_of(2, with_pdfium) / 1e6


def burst(paths: list[Path], lookup: InMemoryLookup) -> dict[str, object]:
    """MB/s of ``paths`` (and of their PDFs alone) judged as the agent judges a burst: its classifier
    threads over its default pool of extraction workers; and each against one file at a time."""
    threads = EgressSettings().classifier_threads
    case_files = CaseFilesSettings()
    configure_default_sandbox(workers=case_files.extraction_workers,
                              recycle_after_jobs=case_files.extraction_worker_jobs)
    out: dict[str, object] = {}

    def judge_all(mapper: Callable[..., Iterator[bool]], files: list[Path]) -> list[bool]:
        return list(mapper(lambda path: classify_file(path, POLICY, lookup).case_file, files))

    for name, files in (("burst", paths), ("burst_pdf", [p for p in paths if p.suffix == ".pdf"])):
        total = sum(p.stat().st_size for p in files)
        with ThreadPoolExecutor(threads) as pool:
            together = best_of(2, partial(judge_all, pool.map, files))
        one = best_of(2, partial(judge_all, map, files))
        out[f"{name}_mb_per_s"] = round(total / together / 1e6, 2)
        out[f"{name}_vs_one_at_a_time"] = round(one / together, 2)
    return out


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """Shortest wall time of ``runs`` calls."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def text_scan(seed: int, megabytes: int) -> float:
    """MB/s of ``scan_content`` over document-sized (~256 kB) pieces of mixed plain text."""
    rng = random.Random(seed)
    pieces: list[str] = []
    total = 0
    while total < megabytes * 1_000_000:
        parts: list[str] = []
        size = 0
        while size < 256_000:
            para = "\n".join(_paragraphs(rng, rng.random() < 0.5, 20))
            parts.append(para)
            size += len(para)
        piece = "\n".join(parts)
        pieces.append(piece)
        total += len(piece.encode())
    rules = content_rules(POLICY.reference_patterns, POLICY.vocabulary_items())
    elapsed = best_of(3, lambda: [scan_content(p, rules) for p in pieces])
    return total / elapsed / 1e6


def classify_all(paths: list[Path], lookup: InMemoryLookup) -> tuple[float, int]:
    """MB/s of ``classify_file`` over ``paths``, and how many were judged case files."""
    total = sum(p.stat().st_size for p in paths)
    found = [0]

    def run() -> None:
        found[0] = sum(classify_file(p, POLICY, lookup).case_file for p in paths)

    return total / best_of(2, run) / 1e6, found[0]


def per_file(paths: list[Path], lookup: InMemoryLookup) -> dict[str, object]:
    """Per-format MB/s, per-file p99 and maximum seconds, recall and false alarms (one timed pass)."""
    seconds: list[float] = []
    by_format: dict[str, list[float]] = {}
    caught = alarms = cases = 0
    for path in paths:
        start = time.perf_counter()
        verdict = classify_file(path, POLICY, lookup)
        took = time.perf_counter() - start
        seconds.append(took)
        size_time = by_format.setdefault(path.suffix[1:], [0.0, 0.0])
        size_time[0] += path.stat().st_size
        size_time[1] += took
        is_case = int(path.stem.removeprefix("doc")) % 3 == 0
        cases += is_case
        caught += is_case and verdict.case_file
        alarms += (not is_case) and verdict.case_file
    seconds.sort()
    return {
        "mb_per_s_by_format": {k: round(v[0] / v[1] / 1e6, 2) for k, v in sorted(by_format.items())},
        "file_p99_s": round(seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))], 4),
        "file_max_s": round(seconds[-1], 4),
        "recall": round(caught / max(1, cases), 3),
        "false_alarms": alarms,
    }


def hash_ratio(paths: list[Path]) -> tuple[float, float]:
    """(ratio, hashlib MB/s): plain hashlib time over our read-and-hash time, same files, interleaved."""
    total = sum(p.stat().st_size for p in paths)
    ours = float("inf")
    plain = float("inf")
    for _ in range(5):
        plain = min(plain, best_of(1, lambda: [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]))
        ours = min(ours, best_of(1, lambda: [read_and_hash(p, Budget(POLICY.limits)).sha256 for p in paths]))
    return plain / ours, total / plain / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=90)
    parser.add_argument("--text-mb", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scans", type=int, default=8)
    parser.add_argument("--long-paragraphs", type=int, default=900, help="paragraphs of the long PDF (~6 a page)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cg-bench-classify-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        paths = build_corpus(root, args.files, args.seed)
        big = []
        for i in range(2):
            path = root / f"big{i}.bin"
            path.write_bytes(random.Random(i).randbytes(48 << 20))
            big.append(path)
        lookup = InMemoryLookup()
        for path in paths[::6]:
            lookup.add(path.name, analyse_protected(path))
        corpus_mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"corpus: {len(paths)} files, {corpus_mb:.1f} MB, built in {time.perf_counter() - t0:.1f}s", flush=True)

        scan = text_scan(args.seed, args.text_mb)
        print(f"text scan: {scan:.1f} MB/s", flush=True)
        classify, found = classify_all(paths, lookup)
        print(f"classify: {classify:.1f} MB/s, {found}/{len(paths)} judged case files", flush=True)
        detail = per_file(paths, lookup)
        print(f"per file: {detail}", flush=True)
        ratio, plain = hash_ratio(paths + big)
        print(f"sha256: ratio {ratio:.2f} (hashlib path {plain:.0f} MB/s)", flush=True)
        scanned = scans(build_scans(root, args.scans, args.seed))
        print(f"scans: {scanned}", flush=True)
        classifier_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux
        worker_rss = default_sandbox().peak_rss_bytes / 1e6  # each worker reports its own and Tesseract's peak
        print(f"peak RSS: classifier {classifier_rss:.0f} MB, worker {worker_rss:.0f} MB", flush=True)
        pypdf_mb, pdfium_mb = pdf_parsers([p for p in paths if p.suffix == ".pdf"])
        print(f"pdf text: pypdf {pypdf_mb:.2f} MB/s, pypdfium2 {pdfium_mb:.2f} MB/s", flush=True)
        converted, long_pdf = libreoffice(paths, root, args.long_paragraphs, args.seed)
        real = real_writers(converted, long_pdf, lookup)
        print(f"real writers: {real}", flush=True)
        bursts = burst(paths + converted, lookup)
        print(f"burst: {bursts}", flush=True)
        public = public_pdfs(lookup)
        print(f"public PDFs: {public}", flush=True)

    print(json.dumps({
        "classify_mb_per_s": round(classify, 2),
        "text_scan_mb_per_s": round(scan, 1),
        "sha256_ratio_vs_hashlib": round(ratio, 3),
        **detail,
        **scanned,
        "pdf_text_mb_per_s_pypdf": round(pypdf_mb, 2),
        "pdf_text_mb_per_s_pdfium": round(pdfium_mb, 2),
        "classifier_peak_rss_mb": round(classifier_rss, 1),
        "worker_peak_rss_mb": round(worker_rss, 1),
        **real,
        **public,
        **bursts,
    }))


if __name__ == "__main__":
    main()
