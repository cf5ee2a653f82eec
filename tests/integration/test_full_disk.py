"""A full state_dir with the real agent and collector: breach-class events survive it.

state_dir lives on a small loop-mounted ext4 filesystem that the test fills up; a USB stick (a
loop-mounted ext4 image under the agent's own folder in /media, the udisks convention) then receives case
files. The agent must keep running, ``status`` must still work, and once space is freed every
egress event must reach the collector, with ``coverage_degraded(disk-full)`` before and after.
Needs root (loop mounts), as CI has; fails loudly without it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.harness import Agent, Collector, run_cli, wait_for
from tests.unit.classify.synthetic import nhs_number

pytestmark = pytest.mark.integration

LABEL = "CGFULL"


def _events(collector: Collector, device: str) -> list[dict[str, Any]]:
    out = run_cli("collector", "events", "list", "--data-dir", str(collector.data_dir), "--device", device,
                  "--json", timeout=120).stdout
    return [json.loads(line) for line in out.splitlines()]


def _egress_on_our_stick(collector: Collector) -> list[dict[str, Any]]:
    # Only our stick: other tests' volumes under /media may be seen by this agent too.
    return [e for e in _events(collector, "laptop-f")
            if e["kind"] == "case_file_egress" and e.get("volume", {}).get("label") == LABEL]


def _case_note(rng: random.Random) -> bytes:
    return ("Child protection strategy meeting. Child: Amelia Testcase, date of birth 01/02/2015, "
            f"NHS number {nhs_number(rng)}. Social worker to update the care plan and safeguarding record.\n"
            ).encode()


def _image(path: Path, mb: int, label: str) -> None:
    with open(path, "wb") as f:
        f.truncate(mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-L", label, str(path)], check=True)


def _mount(image: Path, mount_point: Path) -> None:
    mount_point.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mount_point)], check=True, capture_output=True)


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem says ENOSPC."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    # The last partial blocks too.
    with open(folder / "filler-tail.bin", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return filler


@pytest.fixture
def mounts(tmp_path: Path, media_root: Path) -> Iterator[tuple[Path, Path]]:
    """(state filesystem mount point, USB stick mount point), both unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("full-disk tests loop-mount ext4 images and need root (CI runs as root)", pytrace=False)
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: apt-get install -y e2fsprogs mount", pytrace=False)
    state_img, stick_img = tmp_path / "state.img", tmp_path / "stick.img"
    _image(state_img, 24, "CGSTATE")
    _image(stick_img, 16, LABEL)
    state_mp = tmp_path / "statefs"
    # The agent watches only its own media root (the media_root fixture): the stick goes there.
    stick_mp = media_root / "cgstaff" / LABEL
    _mount(state_img, state_mp)
    try:
        yield state_mp, stick_mp
    finally:
        for mp in (stick_mp, state_mp):
            if os.path.ismount(mp):
                subprocess.run(["umount", "-l", str(mp)], check=False)


def test_breach_events_survive_a_full_state_dir(
    collector: Collector, make_agent: Callable[..., Agent], mounts: tuple[Path, Path], tmp_path: Path
) -> None:
    state_mp, stick_mp = mounts
    rng = random.Random(9)
    (tmp_path / "org.key").write_bytes(os.urandom(32).hex().encode())
    (state_mp / "state").mkdir()
    (tmp_path / "laptop-f-state").symlink_to(state_mp / "state")  # the harness's state_dir, on the small fs
    collector.start()
    agent = make_agent("laptop-f", settings=(
        "[outbox]\nreserve_bytes = 65536\n"
        "[egress]\nsettle_s = 0.5\nvolume_poll_s = 0.5\n"
        f'[privacy]\norg_key_file = "{tmp_path / "org.key"}"\n'
    ))
    agent.start()
    wait_for(lambda: any(e["kind"] == "agent_started" for e in _events(collector, "laptop-f")), 30, "the agent")
    assert (state_mp / "state" / "outbox.sqlite3.reserve").exists(), "a reserve is kept from the start"

    def alive() -> bool:
        assert agent.proc is not None
        if agent.proc.poll() is not None:
            raise AssertionError(f"agent exited with {agent.proc.returncode}:\n{agent.log()[-3000:]}")
        return True

    _mount(tmp_path / "stick.img", stick_mp)
    wait_for(lambda: alive() and any(e["kind"] == "volume_mounted" and e["volume"]["label"] == LABEL
                                     for e in _events(collector, "laptop-f")), 30, "the stick")
    collector.stop()  # nothing is delivered (or deleted from the outbox) while the disk is full
    filler = _fill(state_mp)
    files = 40
    for i in range(files):
        (stick_mp / f"case-{i}.txt").write_bytes(_case_note(rng))
    os.sync()
    wait_for(lambda: alive() and "disk full" in agent.log(), 30, "the agent to notice the full disk")
    # Every file judged: 40 egress events, committed with the reserve's room or waiting in memory.
    wait_for(lambda: alive() and agent.log().count("case file arrived at a ") >= files, 60,
             "all 40 files judged")
    st = run_cli("agent", "status", "--config", str(agent.config), "--json")  # status on a full disk
    assert isinstance(json.loads(st.stdout)["outbox_depth"], int)
    assert "file failed" not in agent.log() and "Traceback" not in agent.log(), agent.log()[-3000:]

    filler.unlink()
    (state_mp / "filler-tail.bin").unlink()
    collector.start()
    wait_for(lambda: alive() and len(_egress_on_our_stick(collector)) >= files, 60,
             "every egress event at the collector after space returned")
    assert len(_egress_on_our_stick(collector)) == files
    coverage = [e for e in _events(collector, "laptop-f")
                if e["kind"] == "coverage_degraded" and e["reason"] == "disk-full"]
    wait_for(lambda: any(e["recovered"] for e in [
        x for x in _events(collector, "laptop-f") if x["kind"] == "coverage_degraded" and x["reason"] == "disk-full"
    ]), 30, "disk-full recovered")
    coverage = [e for e in _events(collector, "laptop-f")
                if e["kind"] == "coverage_degraded" and e["reason"] == "disk-full"]
    assert [e["recovered"] for e in coverage] == [False, True], coverage
    assert (state_mp / "state" / "outbox.sqlite3.reserve").exists(), "the reserve is made again"
    gaps = run_cli("collector", "events", "gaps", "--data-dir", str(collector.data_dir), "--device", "laptop-f",
                   "--json").stdout
    assert [g for g in map(json.loads, gaps.splitlines()) if not g.get("explained")] == []
    agent.stop()
