"""The bounded one-off scan of a newly mounted volume."""

from __future__ import annotations

import os
from pathlib import Path

from agent.egress.model import DESTINATION_CLASS_REMOVABLE_VOLUME, Destination, VolumeIdentity
from agent.egress.scan import scan_once


def make_stick(tmp_path: Path) -> Destination:
    root = tmp_path / "STICK"
    for name in ("a.docx", "b.pdf", "deep/er/c.xlsx", "~$a.docx", ".DS_Store", ".fseventsd/x", "skip/d.txt"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    outside = tmp_path / "laptop-home"
    outside.mkdir()
    (outside / "secret.docx").write_bytes(b"x")
    os.symlink(outside, root / "link-to-home")  # a link on a stick must not lead the scan into the laptop
    volume = VolumeIdentity("STICK", "vfat", 1, "usb", "", True, str(root))
    return Destination(root, DESTINATION_CLASS_REMOVABLE_VOLUME, "usb", volume, excluded=(root / "skip",))


def test_scan_lists_real_files_only(tmp_path):
    stick = make_stick(tmp_path)
    scan = scan_once(stick)
    found = sorted(p.relative_to(stick.path).as_posix() for p in scan)
    assert found == ["a.docx", "b.pdf", "deep/er/c.xlsx"]
    assert (scan.files_scanned, scan.truncated) == (3, False)


def test_scan_stops_at_its_bound_and_says_so(tmp_path):
    stick = make_stick(tmp_path)
    scan = scan_once(stick, limit=2)
    assert len(list(scan)) == 2
    assert (scan.files_scanned, scan.truncated) == (2, True)
    exact = scan_once(stick, limit=3)
    assert len(list(exact)) == 3 and not exact.truncated


def test_scan_of_a_vanished_volume_is_empty(tmp_path):
    gone = Destination(tmp_path / "gone", DESTINATION_CLASS_REMOVABLE_VOLUME, "usb")
    scan = scan_once(gone)
    assert list(scan) == [] and not scan.truncated
