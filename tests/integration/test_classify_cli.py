"""`caseguard-agent classify`: what IT runs to test a policy, the same code the agent runs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.integration.harness import run_cli
from tests.unit.classify.documents import make_docx, make_zip
from tests.unit.classify.synthetic import case_file_paragraphs, guidance_paragraphs, invoice_paragraphs

pytestmark = pytest.mark.integration


def test_classify_prints_one_verdict_a_line_for_files_and_folders(tmp_path: Path) -> None:
    rng = random.Random(7)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "record.docx").write_bytes(make_docx(case_file_paragraphs(rng, reference="CS-123456"),
                                                 header="OFFICIAL-SENSITIVE"))
    (docs / "guidance.docx").write_bytes(make_docx(guidance_paragraphs()))
    (docs / "invoice.docx").write_bytes(make_docx(invoice_paragraphs(rng)))
    bomb = make_zip({f"z{i}.txt": b"0" * 5_000_000 for i in range(3)})
    (docs / "bomb.zip").write_bytes(bomb)
    (docs / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a document")
    config = tmp_path / "agent.toml"
    config.write_text(
        'state_dir = "state"\n[collector]\naddress = "127.0.0.1:1"\nca = "ca.pem"\ncert = "d.pem"\nkey = "d.key"\n'
        '[case_files]\nreference_patterns = ["\\\\bCS-\\\\d{6}\\\\b"]\n'
    )
    out = run_cli("agent", "classify", "--config", str(config), "--json", str(docs)).stdout
    verdicts = {Path(v["path"]).name: v for v in map(json.loads, out.splitlines())}
    assert set(verdicts) == {"record.docx", "guidance.docx", "invoice.docx", "bomb.zip", "broken.docx"}
    for v in verdicts.values():
        assert {"path", "case_file", "confidence", "reasons", "error"} <= set(v)
    record = verdicts["record.docx"]
    assert record["case_file"] is True and {"content", "marking"} <= set(record["reasons"])
    assert verdicts["guidance.docx"]["case_file"] is False
    assert verdicts["invoice.docx"]["case_file"] is False
    assert verdicts["bomb.zip"]["error"] and verdicts["broken.docx"]["error"]


def test_classify_uses_the_protected_store_index_like_the_agent(tmp_path: Path) -> None:
    # Issue 13, finding 9: the command ignored [case_files] roots, so copies and excerpts looked clean.
    rng = random.Random(11)
    store = tmp_path / "store"
    store.mkdir()
    paragraphs = case_file_paragraphs(rng, paragraphs=14, reference="CS-654321")
    record = make_docx(paragraphs)
    (store / "record.docx").write_bytes(record)
    out_dir = tmp_path / "usb"
    out_dir.mkdir()
    (out_dir / "copy.docx").write_bytes(record)
    # Case notes lifted out of the record: no identifiers, so content alone does not catch it.
    (out_dir / "excerpt.txt").write_text("\n".join(paragraphs[6:14]))
    config = tmp_path / "agent.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[collector]\naddress = "127.0.0.1:1"\nca = "ca.pem"\ncert = "d.pem"\n'
        f'key = "d.key"\n[case_files]\nroots = ["{store}"]\n'
    )
    out = run_cli("agent", "classify", "--config", str(config), "--json", str(out_dir)).stdout
    verdicts = {Path(v["path"]).name: v for v in map(json.loads, out.splitlines())}
    assert verdicts["copy.docx"]["case_file"] is True and "exact" in verdicts["copy.docx"]["reasons"]
    assert verdicts["excerpt.txt"]["case_file"] is True and verdicts["excerpt.txt"]["reasons"] == ["fingerprint"]
    assert verdicts["copy.docx"]["protected_ref"] == verdicts["excerpt.txt"]["protected_ref"]
