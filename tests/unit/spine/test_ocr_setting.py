"""`[case_files] ocr` reaches the classifier: on by default, off when the file says so."""

from __future__ import annotations

from pathlib import Path

from agent.classifier_policy import classifier_policy
from agent.config import parse_config

BASE = {"state_dir": "state", "collector": {"address": "127.0.0.1:1", "ca": "ca", "cert": "c", "key": "k"}}


def test_ocr_is_on_by_default_and_can_be_switched_off(tmp_path: Path) -> None:
    assert classifier_policy(parse_config(BASE, base_dir=tmp_path)).limits.ocr is True
    off = parse_config({**BASE, "case_files": {"ocr": False}}, base_dir=tmp_path)
    assert classifier_policy(off).limits.ocr is False
