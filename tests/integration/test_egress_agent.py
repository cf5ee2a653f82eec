"""Egress detection end to end: the real agent watching real destinations, the real collector.

Removable media is a real ext4 image loop-mounted at <media root>/<user>/<LABEL> (the udisks
convention), where the media root is the test's own directory under /media; that needs root,
which CI has, and fails loudly without it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for
from tests.unit.classify.documents import make_docx, make_pdf, make_zip, set_encrypted_flag
from tests.unit.classify.synthetic import case_file_paragraphs, invoice_paragraphs, nhs_number

pytestmark = pytest.mark.integration


def _events(collector: Collector, device: str, kind: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [e for e in map(json.loads, out.splitlines()) if e["kind"] == kind]


def _case_note(rng: random.Random) -> bytes:
    return ("Child protection strategy meeting. Child: Amelia Testcase, date of birth 01/02/2015, "
            f"NHS number {nhs_number(rng)}. Social worker to update the care plan and safeguarding record.\n"
            ).encode()


def _agent_settings(personal: Path, protected: Path) -> str:
    return (
        f'[egress]\npersonal_dirs = ["{personal}"]\nsettle_s = 1.0\nvolume_poll_s = 0.5\n'
        f'[case_files]\nroots = ["{protected}"]\n'
        f'[privacy]\norg_key_file = "{protected.parent / "org.key"}"\n'
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    personal = tmp_path / "home" / "Personal Sync"
    protected = tmp_path / "casestore"
    personal.mkdir(parents=True)
    protected.mkdir()
    (tmp_path / "org.key").write_bytes(os.urandom(32).hex().encode())
    return personal, protected


def test_case_files_in_a_personal_folder_are_reported_without_names(
    collector: Collector, make_agent: Callable[..., Agent], layout: tuple[Path, Path]
) -> None:
    personal, protected = layout
    rng = random.Random(11)
    record = make_docx(case_file_paragraphs(rng, paragraphs=14, reference="CS-104233"))
    (protected / "Testcase-Amelia-CP-plan.docx").write_bytes(record)
    collector.start()
    agent = make_agent("laptop-e", settings=_agent_settings(personal, protected))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-e", "agent_started")), 20, "the agent")
    # Give the first reconcile a moment to index the protected store.
    wait_for(lambda: (agent.root / "laptop-e-state" / "protected").exists(), 10, "the protected index")
    time.sleep(2)
    (personal / "renamed-copy.docx").write_bytes(record)  # exact copy under another name
    (personal / "invoice.docx").write_bytes(make_docx(invoice_paragraphs(rng)))  # not a case file
    (personal / "note.txt").write_bytes(_case_note(rng))  # identifiers in case context
    (personal / "~$lock.docx").write_bytes(b"office lock file")  # ignored
    wait_for(lambda: len(_events(collector, "laptop-e", "case_file_egress")) >= 2, 30, "two egress events")
    time.sleep(2)
    events = _events(collector, "laptop-e", "case_file_egress")
    assert len(events) == 2, [e["file"]["extension"] for e in events]
    by_ext = {e["file"]["extension"]: e for e in events}
    docx, txt = by_ext["docx"], by_ext["txt"]
    assert "exact" in docx["file"]["reasons"] and docx["file"]["protected_ref"]
    assert docx["destination_class"] == "DESTINATION_CLASS_PERSONAL_FOLDER"
    assert "content" in txt["file"]["reasons"] and txt["file"]["identifier_counts"]["nhs_number"] == 1
    raw = json.dumps(events)
    for secret in ("renamed-copy", "note.txt", "Amelia", "Testcase", str(personal)):
        assert secret not in raw, f"{secret!r} leaked into an event"
    assert docx["file"]["file_name"] == "" and len(docx["file"]["sha256_hmac"]) == 64


def test_files_that_cannot_be_read_are_reported_as_uninspectable(
    collector: Collector, make_agent: Callable[..., Agent], layout: tuple[Path, Path]
) -> None:
    # Issue 13, finding 6: password-protected files went out with no event at all.
    personal, protected = layout
    rng = random.Random(12)
    collector.start()
    agent = make_agent("laptop-u", settings=_agent_settings(personal, protected))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-u", "agent_started")), 20, "the agent")
    record = case_file_paragraphs(rng, paragraphs=6)
    (personal / "Testcase-locked.pdf").write_bytes(make_pdf(record, user_password="s3cret"))
    (personal / "Testcase-archive.zip").write_bytes(set_encrypted_flag(make_zip({"a.txt": b"x" * 1000})))
    (personal / "shopping.txt").write_bytes(b"eggs, milk, bread\n")  # readable and clean: no event
    wait_for(lambda: len(_events(collector, "laptop-u", "uninspectable_file")) >= 2, 30, "two uninspectable events")
    time.sleep(2)
    events = _events(collector, "laptop-u", "uninspectable_file")
    assert sorted((e["extension"], e["reason"]) for e in events) == [("pdf", "encrypted"), ("zip", "encrypted")]
    for e in events:
        assert e["destination_class"] == "DESTINATION_CLASS_PERSONAL_FOLDER"
        assert int(e["size_bytes"]) > 0 and len(e["sha256_hmac"]) == 64 and e["copy_burst_id"]
    assert not _events(collector, "laptop-u", "case_file_egress")
    raw = json.dumps(events)
    for secret in ("Testcase", "locked", "archive", str(personal)):
        assert secret not in raw, f"{secret!r} leaked into an event"


def _mount(image: Path, mount_point: Path) -> None:
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount_point)], check=True, capture_output=True)


def _umount(mount_point: Path) -> None:
    subprocess.run(["umount", str(mount_point)], check=True, capture_output=True)


def _image(path: Path, label: str) -> Path:
    if os.geteuid() != 0:
        pytest.fail("removable-media tests loop-mount an ext4 image and need root (CI runs as root)", pytrace=False)
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: apt-get install -y e2fsprogs mount", pytrace=False)
    with open(path, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-L", label, str(path)], check=True)
    return path


def _unmount_and_remove(user_dir: Path) -> None:
    for mount_point in user_dir.glob("*"):
        if os.path.ismount(mount_point):
            subprocess.run(["umount", str(mount_point)], check=False)
    shutil.rmtree(user_dir, ignore_errors=True)


@pytest.fixture
def stick(tmp_path: Path, media_root: Path) -> Iterator[tuple[Path, Path]]:
    """An ext4 image and where udisks would mount it for staff member cgstaff, under the test's media root."""
    image = _image(tmp_path / "stick.img", "STICK")
    mount_point = media_root / "cgstaff" / "STICK"
    yield image, mount_point
    _unmount_and_remove(mount_point.parent)


def test_usb_stick_copy_unmount_and_remount(
    collector: Collector, make_agent: Callable[..., Agent], layout: tuple[Path, Path], stick: tuple[Path, Path]
) -> None:
    personal, protected = layout
    image, mount_point = stick
    rng = random.Random(5)
    collector.start()
    agent = make_agent("laptop-u", settings=_agent_settings(personal, protected))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-u", "agent_started")), 20, "the agent")

    _mount(image, mount_point)
    wait_for(lambda: bool(_events(collector, "laptop-u", "volume_mounted")), 15, "volume_mounted")
    volume = _events(collector, "laptop-u", "volume_mounted")[0]["volume"]
    assert volume["label"] == "STICK" and volume["filesystem"] == "ext4" and int(volume["size_bytes"]) > 0
    assert volume["mount_point"] == ""  # no paths by default
    time.sleep(1)
    for i in range(3):
        (mount_point / f"child-{i}.txt").write_bytes(_case_note(rng))
    (mount_point / "shopping.txt").write_text("milk, eggs, bread\n")
    wait_for(lambda: len(_events(collector, "laptop-u", "case_file_egress")) == 3, 30, "3 egress events")
    egress = _events(collector, "laptop-u", "case_file_egress")
    assert {e["destination_class"] for e in egress} == {"DESTINATION_CLASS_REMOVABLE_VOLUME"}
    assert all(e["volume"]["label"] == "STICK" for e in egress)
    assert len({e["copy_burst_id"] for e in egress}) == 1, "one copy burst"
    assert "child-" not in json.dumps(egress)

    _umount(mount_point)
    wait_for(lambda: bool(_events(collector, "laptop-u", "volume_unmounted")), 15, "volume_unmounted")
    (mount_point / "after-unmount.txt").write_bytes(_case_note(rng))  # the bare folder: not a volume now
    time.sleep(3)
    assert len(_events(collector, "laptop-u", "case_file_egress")) == 3
    (mount_point / "after-unmount.txt").unlink()

    _mount(image, mount_point)  # the stick comes back with the case files still on it
    wait_for(lambda: bool(_events(collector, "laptop-u", "case_files_found")), 30, "case_files_found on remount")
    found = _events(collector, "laptop-u", "case_files_found")[0]
    assert len(found["files"]) == 3 and int(found["files_scanned"]) >= 4 and found["truncated"] is False
    assert len(_events(collector, "laptop-u", "volume_mounted")) == 2
    (mount_point / "late.txt").write_bytes(_case_note(rng))  # and the fresh watch works
    wait_for(lambda: len(_events(collector, "laptop-u", "case_file_egress")) == 4, 30, "egress after remount")


def test_a_20000_file_burst_loses_no_case_file(
    collector: Collector, make_agent: Callable[..., Agent], layout: tuple[Path, Path]
) -> None:
    personal, protected = layout
    rng = random.Random(3)
    collector.start()
    agent = make_agent("laptop-b", settings=_agent_settings(personal, protected))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-b", "agent_started")), 20, "the agent")
    time.sleep(1)
    staging = personal.parent / "staging"
    staging.mkdir()
    case_every = 40  # 500 case files among 20,000
    for i in range(20_000):
        data = _case_note(rng) if i % case_every == 0 else f"receipt {i}: stationery\n".encode()
        (staging / f"f{i:05d}.txt").write_bytes(data)
    shutil.copytree(staging, personal / "burst")  # created + closed, 20,000 times, as fast as the disk goes
    wait_for(lambda: collector.count("case_file_egress", "laptop-b") >= 500, 240, "500 egress events",
             interval=0.5)
    time.sleep(3)
    assert collector.count("case_file_egress", "laptop-b") == 500
    degraded = _events(collector, "laptop-b", "coverage_degraded")
    assert all(e["recovered"] or e["reason"] != "watcher-died" for e in degraded)


@pytest.fixture
def foreign_volume(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Someone else's image and a udisks-style place under /media that is not the test's media root."""
    image = _image(tmp_path / "foreign.img", "FOREIGN")
    user_dir = Path("/media") / f"cg-foreign-{os.getpid()}-{tmp_path.name[-12:]}"
    yield image, user_dir / "FOREIGN"
    _unmount_and_remove(user_dir)


def test_a_volume_mounted_outside_the_agents_media_roots_is_not_reported(
    collector: Collector,
    make_agent: Callable[..., Agent],
    layout: tuple[Path, Path],
    stick: tuple[Path, Path],
    foreign_volume: tuple[Path, Path],
) -> None:
    """Another party's loop image under /media (case file and all) is none of this test agent's business."""
    personal, protected = layout
    image, mount_point = stick
    foreign_image, foreign_point = foreign_volume
    rng = random.Random(17)
    collector.start()
    agent = make_agent("laptop-h", settings=_agent_settings(personal, protected))
    _mount(foreign_image, foreign_point)  # already there when the agent takes its first snapshot
    (foreign_point / "theirs-1.txt").write_bytes(_case_note(rng))
    agent.start()
    wait_for(lambda: bool(_events(collector, "laptop-h", "agent_started")), 20, "the agent")

    _mount(image, mount_point)  # the control: the agent's own stick is seen, so the monitor is looking
    wait_for(lambda: bool(_events(collector, "laptop-h", "volume_mounted")), 15, "volume_mounted")
    time.sleep(1)
    (foreign_point / "theirs-2.txt").write_bytes(_case_note(rng))
    (mount_point / "ours.txt").write_bytes(_case_note(rng))
    wait_for(lambda: bool(_events(collector, "laptop-h", "case_file_egress")), 30, "egress on the agent's stick")
    time.sleep(3)  # room for anything about the foreign volume to arrive too (the settle time is 1 s)

    mounted = _events(collector, "laptop-h", "volume_mounted")
    assert [v["volume"]["label"] for v in mounted] == ["STICK"]
    egress = _events(collector, "laptop-h", "case_file_egress")
    assert [e["volume"]["label"] for e in egress] == ["STICK"]
    assert _events(collector, "laptop-h", "case_files_found") == []
    assert "FOREIGN" not in json.dumps(_events(collector, "laptop-h", "coverage_degraded"))
