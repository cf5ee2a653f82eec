"""Scans and photos are read by real Tesseract; PDFs and OCR run in a confined worker that is killed
at its deadline (issue 13: "Scans and photos are missed", "Extraction in a sandbox with hard limits")."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ContentStream

from agent.classify import ClassifierPolicy, Limits, classify_bytes, classify_file
from agent.sandbox import Sandbox
from tests.integration.harness import run_cli
from tests.unit.classify import documents
from tests.unit.classify.synthetic import guidance_paragraphs, random_words

pytestmark = pytest.mark.integration

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# Invented child; 999 012 2407 is a test-range NHS number with a valid check digit.
CASE_PAGE = [
    "Children's Services - Child Protection Case Record",
    "Child: Keira Dunmore   Date of birth: 14/03/2016",
    "NHS number: 999 012 2407",
    "Legal status: child in need, child protection plan since last year.",
    "On Monday 3 June 2024 the social worker visited Keira at the family home with her mother present. "
    "Keira disclosed worries about domestic abuse and said it happened four times. A strategy meeting "
    "was held and a section 47 enquiry was started. The core group meeting was booked for Friday.",
]


def page_image(paragraphs: list[str], *, dpi: int = 200) -> Image.Image:
    """An A4 page (grey, as a scanner makes it) with ``paragraphs`` typed on it."""
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, dpi // 7)
    y = dpi // 2
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 70):
            draw.text((dpi // 2, y), line, fill=0, font=font)
            y += dpi // 5
        y += dpi // 10
    return image


def encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **({"resolution": 200.0} if fmt == "PDF" else {}))
    return out.getvalue()


@pytest.mark.parametrize("fmt,extension", [("PNG", "png"), ("TIFF", "tiff"), ("JPEG", "jpg"), ("PDF", "pdf")])
def test_a_scanned_case_page_is_a_case_file(tmp_path: Path, fmt: str, extension: str) -> None:
    path = tmp_path / f"scan.{extension}"
    path.write_bytes(encoded(page_image(CASE_PAGE), fmt))
    verdict = classify_file(path)
    assert verdict.case_file, verdict
    assert "content" in verdict.reasons


def test_a_scanned_page_of_public_guidance_is_not_a_case_file(tmp_path: Path) -> None:
    path = tmp_path / "guidance.pdf"
    path.write_bytes(encoded(page_image(guidance_paragraphs()[:6]), "PDF"))
    verdict = classify_file(path)
    assert not verdict.case_file and verdict.error is None


def test_with_ocr_off_scans_are_reported_unjudged_not_clean() -> None:
    policy = ClassifierPolicy(limits=Limits(ocr=False))
    for fmt, extension in (("PNG", "png"), ("PDF", "pdf")):
        verdict = classify_bytes(encoded(page_image(CASE_PAGE), fmt), extension, policy)
        assert not verdict.case_file and verdict.uninspectable and verdict.error == "ocr-off"


def test_without_tesseract_images_are_uninspectable_and_it_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox(tesseract_command="/nonexistent/tesseract")
    png = encoded(page_image(CASE_PAGE), "PNG")
    with caplog.at_level(logging.WARNING):
        verdicts = [classify_bytes(png, "png", reader=sandbox) for _ in range(2)]
    assert all(v.uninspectable and v.error == "ocr-unavailable" for v in verdicts)
    assert sum("OCR is unavailable" in r.getMessage() for r in caplog.records) == 1


def test_heic_photos_are_reported_unsupported() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    verdict = classify_bytes(heic, "heic")
    assert verdict.uninspectable and verdict.error == "unsupported-format"


def test_a_long_bundle_is_read_to_the_last_page(tmp_path: Path) -> None:
    rng = random.Random(5)
    filler = [random_words(rng, 60) for _ in range(5000)]
    bundle = documents.make_pdf([*filler, *CASE_PAGE], lines_per_page=60, width=110)
    path = tmp_path / "bundle.pdf"
    path.write_bytes(bundle)
    assert len(PdfReader(io.BytesIO(bundle)).pages) >= 400
    started = time.monotonic()
    verdict = classify_file(path)
    assert verdict.case_file and verdict.error is None, verdict
    assert time.monotonic() - started < ClassifierPolicy().limits.time_budget_s + 2


def _slow_pdf(segments: int = 300_000) -> bytes:
    """A page of nothing but hundreds of thousands of crossing lines: no text, slow to render."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    ops = b"0.1 w " + b" ".join(
        b"%d %d m %d %d l" % (i % 600, (i * 7) % 790, (i * 13) % 600, (i * 3) % 790) for i in range(segments)
    ) + b" S"
    stream = ContentStream(None, None)
    stream.set_data(ops)
    page.replace_contents(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _workers() -> list[psutil.Process]:
    """Extraction workers still alive (children of the fork server, and theirs)."""
    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    return [w for server in servers for w in server.children(recursive=True)]


def test_a_page_that_outruns_the_deadline_is_killed_and_reported(tmp_path: Path) -> None:
    limits = Limits(time_budget_s=1.0, ocr_time_budget_s=1.0)
    sandbox = Sandbox(start_grace_s=1.0)
    path = tmp_path / "crafted.pdf"
    path.write_bytes(_slow_pdf())
    before = {w.pid for w in _workers()}
    started = time.monotonic()
    verdict = classify_file(path, ClassifierPolicy(limits=limits), reader=sandbox)
    took = time.monotonic() - started
    assert verdict.uninspectable and verdict.error == "timeout"
    assert took < 1.0 + 1.0 + 1.0 + 1.5
    assert {w.pid for w in _workers()} <= before and sandbox.worker_pids() == []  # killed, with its children
    # The agent's process carries on: the next file is judged as usual, by a fresh worker.
    after = classify_bytes(documents.make_pdf(CASE_PAGE), "pdf", reader=sandbox)
    assert after.case_file and after.error is None
    sandbox.close()


def test_an_image_that_needs_more_memory_than_the_worker_has_is_reported_over_budget() -> None:
    huge = encoded(Image.new("RGB", (6900, 6900), "white"), "PNG")  # 200 kB that decodes to 140 MB
    policy = ClassifierPolicy(limits=Limits(worker_memory_bytes=300 << 20))
    sandbox = Sandbox()
    verdict = classify_bytes(huge, "png", policy, reader=sandbox)
    assert verdict.uninspectable and verdict.error == "over-budget"
    assert sandbox.worker_pids() == []  # the worker that ran out is not reused
    assert classify_bytes(encoded(page_image(CASE_PAGE), "PNG"), "png", reader=sandbox).case_file
    sandbox.close()


def test_the_classify_command_judges_scans_like_the_agent(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "scan.png").write_bytes(encoded(page_image(CASE_PAGE), "PNG"))
    (docs / "scan.pdf").write_bytes(encoded(page_image(CASE_PAGE), "PDF"))
    config = tmp_path / "agent.toml"
    config.write_text(
        'state_dir = "state"\n[collector]\naddress = "127.0.0.1:1"\nca = "ca.pem"\ncert = "d.pem"\nkey = "d.key"\n'
    )
    out = run_cli("agent", "classify", "--config", str(config), "--json", str(docs), timeout=120).stdout
    verdicts = {Path(v["path"]).name: v for v in map(json.loads, out.splitlines())}
    assert verdicts["scan.png"]["case_file"] is True and verdicts["scan.pdf"]["case_file"] is True


def _pdf_job_pids(sandbox: Sandbox, jobs: int) -> list[int]:
    pids: list[int] = []
    for _ in range(jobs):
        verdict = classify_bytes(documents.make_pdf(CASE_PAGE), "pdf", reader=sandbox)
        assert verdict.case_file and verdict.error is None
        pids.extend(w.pid for w in _workers() if w.pid in sandbox.worker_pids())
    return pids


def test_one_confined_worker_serves_file_after_file() -> None:
    sandbox = Sandbox()
    try:
        pids = _pdf_job_pids(sandbox, 4)
        assert len(pids) == 4 and len(set(pids)) == 1, pids  # started once, reused
        worker = psutil.Process(pids[0])
        assert os.getsid(worker.pid) == worker.pid  # its own session, so its children die with it
        assert worker.rlimit(psutil.RLIMIT_AS)[0] == Limits().worker_memory_bytes
        assert os.readlink(f"/proc/{worker.pid}/ns/net") != os.readlink("/proc/self/ns/net")  # no network
        assert 0 < sandbox.peak_rss_bytes < 200 * 1024 * 1024
    finally:
        sandbox.close()
    assert not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE


def test_a_worker_is_replaced_after_its_quota_of_jobs() -> None:
    sandbox = Sandbox(recycle_after_jobs=2)
    try:
        pids = _pdf_job_pids(sandbox, 1) + _pdf_job_pids(sandbox, 1) + _pdf_job_pids(sandbox, 1)
        assert len(pids) == 2 and pids[0] != pids[1], pids  # the second job retired the first worker
    finally:
        sandbox.close()


def _direct_workers() -> set[int]:
    """Worker processes alive now (the fork server's own children, not the programs they run)."""
    servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
    return {w.pid for server in servers for w in server.children() if w.status() != psutil.STATUS_ZOMBIE}


def test_two_pdfs_arriving_together_are_read_at_the_same_time(tmp_path: Path) -> None:
    # The agent's two classifier threads each judge a slow PDF: with the default pool both are read at
    # once (two workers alive together), so the pair takes about one file's time, not two.
    limits = Limits(time_budget_s=1.5, ocr_time_budget_s=1.5)
    sandbox = Sandbox(start_grace_s=1.0)
    paths = [tmp_path / f"crafted{i}.pdf" for i in range(2)]
    for path in paths:
        path.write_bytes(_slow_pdf())
    before = _direct_workers()
    seen: set[int] = set()
    together = 0
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        futures = [pool.submit(classify_file, p, ClassifierPolicy(limits=limits), reader=sandbox) for p in paths]
        while not all(f.done() for f in futures):
            alive = _direct_workers() - before
            seen |= alive
            together = max(together, len(alive))
            time.sleep(0.05)
        took = time.monotonic() - started
    assert [f.result().error for f in futures] == ["timeout", "timeout"]
    assert together == 2, seen
    assert took < 3.0 + 1.0 + 2.0  # one deadline (3 s) and grace, not two of them back to back
    sandbox.close()


def _wait_gone(pid: int, sandbox: Sandbox) -> None:
    """Until the worker ``pid`` has exited and the pool knows it (the fork server reports it a moment later)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(10)
    deadline = time.monotonic() + 10
    while pid in sandbox.worker_pids() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_worker_left_idle_ends_itself_and_a_fresh_one_serves_the_next_file(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = Sandbox(idle_exit_s=0.5)
    try:
        [pid] = _pdf_job_pids(sandbox, 1)
        _wait_gone(pid, sandbox)  # the memory a burst took is given back
        assert not psutil.pid_exists(pid) and sandbox.worker_pids() == []
        with caplog.at_level(logging.WARNING):
            [again] = _pdf_job_pids(sandbox, 1)
        assert again != pid
        assert not [r.getMessage() for r in caplog.records]  # ending idle is not a crash
    finally:
        sandbox.close()


def test_a_worker_that_ends_itself_just_as_a_file_is_sent_is_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The pool saw the worker alive and fresh a moment before it timed out idle; the file must still be
    # read (by a new worker), not reported unjudged with a crash warning.
    from agent.sandbox import runner

    sandbox = Sandbox(idle_exit_s=0.3, clock=lambda: 0.0)  # a frozen clock: every idle worker looks fresh
    try:
        [pid] = _pdf_job_pids(sandbox, 1)
        _wait_gone(pid, sandbox)
        monkeypatch.setattr(runner._Worker, "alive", lambda self: True)
        with caplog.at_level(logging.WARNING):
            verdict = classify_bytes(documents.make_pdf(CASE_PAGE), "pdf", reader=sandbox)
        assert verdict.case_file and verdict.error is None, verdict
        assert not [r.getMessage() for r in caplog.records]
    finally:
        sandbox.close()


def test_a_worker_that_dies_is_replaced_and_it_is_said(caplog: pytest.LogCaptureFixture) -> None:
    sandbox = Sandbox()
    try:
        [pid] = _pdf_job_pids(sandbox, 1)
        os.kill(pid, signal.SIGKILL)
        psutil.Process(pid).wait(5)
        with caplog.at_level(logging.WARNING):
            assert classify_bytes(documents.make_pdf(CASE_PAGE), "pdf", reader=sandbox).case_file
        messages = [r.getMessage() for r in caplog.records]
        assert sum("exited unexpectedly" in m for m in messages) == 1, messages
        assert sum("running again" in m for m in messages) == 1, messages
    finally:
        sandbox.close()


def test_the_agent_process_never_loads_the_parsers(tmp_path: Path) -> None:
    path = tmp_path / "note.pdf"
    path.write_bytes(documents.make_pdf(CASE_PAGE))
    script = (
        "import sys\nfrom agent.classify import classify_file\n"
        "if __name__ == '__main__':\n"
        f"    assert classify_file({str(path)!r}).case_file\n"
        "    print(sorted(m for m in ('PIL', 'pypdfium2', 'pypdf', 'pytesseract') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
