"""The egress pipeline with real watchers, classifier and index, and a fake source of removable volumes.

Volumes are tmp dirs the fake source reports as mounted; a personal folder is a tmp dir too. The
test waits on the events the pipeline commits (a condition), never on a fixed sleep.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig, parse_config
from agent.egress.model import Volume, VolumeIdentity
from agent.egress_pipeline import EgressPipeline
from caseguard.identifiers import export_hashes, key_check
from tests.unit.classify.synthetic import nhs_number

WAIT_S = 20.0
KEY = b"k" * 32


def _case_note(rng: random.Random) -> bytes:
    return ("Child protection strategy meeting. Child: Amelia Testcase, date of birth 01/02/2015, "
            f"NHS number {nhs_number(rng)}. Social worker to update the care plan and safeguarding record.\n"
            ).encode()


class Sink:
    """An EventSink that keeps every event and lets the test wait for one."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self.refuse: set[str] = set()  # kinds whose next commit fails (disk full)

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        with self.changed:
            if kind in self.refuse:
                self.refuse.discard(kind)
                self.changed.notify_all()
                raise OSError(28, "No space left on device")
            self.events.append((kind, json.loads(json.dumps(body))))
            self.changed.notify_all()

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.changed:
            return [b for k, b in self.events if k == kind]

    def wait_for(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        with self.changed:
            ok = self.changed.wait_for(lambda: len([1 for k, _ in self.events if k == kind]) >= count, WAIT_S)
            assert ok, f"no {count} x {kind}; got {[k for k, _ in self.events]}"
        return self.of(kind)


class FakeVolumes:
    """A VolumeSource whose mounted volumes the test sets."""

    def __init__(self) -> None:
        self._volumes: frozenset[Volume] = frozenset()
        self._changed = threading.Event()

    def set(self, *volumes: Volume) -> None:
        self._volumes = frozenset(volumes)
        self._changed.set()

    def snapshot(self) -> frozenset[Volume]:
        return self._volumes

    def wait_for_change(self, stop: threading.Event, timeout: float) -> None:
        waited = 0.0
        while not stop.is_set() and waited < timeout:
            if self._changed.wait(0.05):
                self._changed.clear()
                return
            waited += 0.05


def _volume(mount_point: Path, label: str = "STICK", token: str = "41") -> Volume:
    identity = VolumeIdentity(label=label, filesystem="vfat", size_bytes=8 << 30, bus="usb",
                              serial_hmac="ab" * 32, removable_flag=True, mount_point=str(mount_point))
    return Volume(identity=identity, mount_token=token, device="8:17")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("home", "state", "casestore", "stick")}
    for p in paths.values():
        p.mkdir()
    paths["personal"] = paths["home"] / "Personal Sync"
    paths["personal"].mkdir()
    return paths


def _config(layout: dict[str, Path]) -> AgentConfig:
    raw = {
        "state_dir": str(layout["state"]),
        "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"},
        "egress": {"personal_dirs": [str(layout["personal"])], "homes": [str(layout["home"])], "settle_s": 0.2,
                   "burst_gap_s": 1.0, "volume_poll_s": 5.0, "classifier_threads": 1},
        "case_files": {"roots": [str(layout["casestore"])]},
    }
    return parse_config(raw, base_dir=layout["state"])


@pytest.fixture
def running(layout: dict[str, Path]) -> Iterator[Callable[[], tuple[EgressPipeline, Sink, FakeVolumes]]]:
    started: list[EgressPipeline] = []

    def start() -> tuple[EgressPipeline, Sink, FakeVolumes]:
        sink, volumes = Sink(), FakeVolumes()
        pipeline = EgressPipeline(_config(layout), sink, KEY, volume_source=volumes)
        started.append(pipeline)
        pipeline.start()
        return pipeline, sink, volumes

    yield start
    for p in started:
        p.stop()


def test_case_files_already_on_a_new_volume_are_reported_together_without_names(layout, running) -> None:
    rng = random.Random(1)
    stick = layout["stick"]
    (stick / "Amelia-plan.txt").write_bytes(_case_note(rng))
    (stick / "shopping.txt").write_text("milk, eggs, bread\n")
    _, sink, volumes = running()
    volumes.set(_volume(stick))
    (found,) = sink.wait_for("case_files_found")
    assert sink.of("volume_mounted")[0]["volume"]["label"] == "STICK"
    assert len(found["files"]) == 1 and found["files_scanned"] == 2 and found["truncated"] is False
    assert "content" in found["files"][0]["reasons"]
    raw = json.dumps(sink.events)
    assert "Amelia" not in raw and str(stick) not in raw, "names and paths stay on the laptop by default"


def test_a_case_file_copied_to_a_mounted_volume_is_one_egress_event(layout, running) -> None:
    rng = random.Random(2)
    stick = layout["stick"]
    (stick / "already.txt").write_bytes(_case_note(rng))
    _, sink, volumes = running()
    volumes.set(_volume(stick))
    sink.wait_for("case_files_found")  # the scan runs after the watch is in place
    (stick / "copied.txt").write_bytes(_case_note(rng))
    (stick / "receipt.txt").write_text("receipt 12: stationery\n")
    (egress,) = sink.wait_for("case_file_egress")
    assert egress["destination_class"] == "DESTINATION_CLASS_REMOVABLE_VOLUME"
    assert egress["volume"]["label"] == "STICK" and egress["file"]["extension"] == "txt"


def test_after_unmount_the_folder_left_behind_is_not_watched(layout, running) -> None:
    rng = random.Random(3)
    stick = layout["stick"]
    (stick / "already.txt").write_bytes(_case_note(rng))
    pipeline, sink, volumes = running()
    volumes.set(_volume(stick))
    sink.wait_for("case_files_found")
    volumes.set()
    sink.wait_for("volume_unmounted")
    assert [d for d in pipeline.watcher.destinations() if d.path == stick] == []
    (stick / "after.txt").write_bytes(_case_note(rng))  # the bare mount point, not a volume now
    # Remount with a new mount token: the scan finds both files, and no egress event came between.
    volumes.set(_volume(stick, token="42"))
    sink.wait_for("case_files_found", 2)
    assert sink.of("case_file_egress") == []
    assert len(sink.of("case_files_found")[1]["files"]) == 2


def test_a_case_file_in_a_personal_cloud_folder_is_reported(layout, running) -> None:
    rng = random.Random(4)
    _, sink, _ = running()
    (layout["personal"] / "note.txt").write_bytes(_case_note(rng))
    (egress,) = sink.wait_for("case_file_egress")
    assert egress["destination_class"] == "DESTINATION_CLASS_PERSONAL_FOLDER"
    assert "volume" not in egress


def test_one_event_that_cannot_be_committed_does_not_stop_detection(layout, running) -> None:
    rng = random.Random(5)
    _, sink, _ = running()
    sink.refuse.add("case_file_egress")
    (layout["personal"] / "first.txt").write_bytes(_case_note(rng))
    with sink.changed:
        assert sink.changed.wait_for(lambda: not sink.refuse, WAIT_S), "the first case file was never judged"
    (layout["personal"] / "second.txt").write_bytes(_case_note(rng))
    (egress,) = sink.wait_for("case_file_egress")  # the classifier thread survived the failure
    assert egress["destination_class"] == "DESTINATION_CLASS_PERSONAL_FOLDER"


def test_stop_ends_every_thread_it_started(layout) -> None:
    before = set(threading.enumerate())
    pipeline = EgressPipeline(_config(layout), Sink(), KEY, volume_source=FakeVolumes())
    pipeline.start()
    assert set(threading.enumerate()) - before, "the pipeline runs threads"
    pipeline.stop()
    assert [t.name for t in set(threading.enumerate()) - before if t.is_alive()] == []


def _mountinfo_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").endswith("/mountinfo")
        except OSError:
            continue
    return count


def test_each_stop_releases_the_mount_table_descriptor_of_the_default_source(layout) -> None:
    """A policy change restarts the pipeline; each restart must not leave a descriptor behind."""
    config = parse_config(
        {"state_dir": str(layout["state"]), "collector": {"address": "c:1", "ca": "ca", "cert": "c", "key": "k"},
         "egress": {"homes": [str(layout["home"])], "media_roots": [str(layout["stick"])]}},
        base_dir=layout["state"],
    )
    before = _mountinfo_fds()
    for _ in range(3):
        pipeline = EgressPipeline(config, Sink(), KEY)  # this OS's own volume source
        pipeline.start()
        opened = threading.Event()
        for _ in range(500):  # the monitor thread opens mountinfo for POLLPRI once it first waits
            if _mountinfo_fds() > before or opened.wait(0.01):
                break
        assert _mountinfo_fds() > before
        pipeline.stop()
        assert _mountinfo_fds() == before


def test_known_identifiers_hashed_under_another_key_are_reported_not_silently_useless(layout) -> None:
    """A laptop without the organisation's key (or with another) can match none of the policy's hashes."""
    base = _config(layout)
    hashes = tuple(export_hashes(b"o" * 32, {"ref:CS-104233"}))
    for laptop_key, degraded in ((b"o" * 32, False), (KEY, True)):
        config = dataclasses.replace(base, case_files=dataclasses.replace(
            base.case_files, known_identifier_hashes=hashes, known_identifier_key_check=key_check(b"o" * 32)))
        sink = Sink()
        pipeline = EgressPipeline(config, sink, laptop_key, volume_source=FakeVolumes())
        pipeline.start()
        pipeline.stop()
        reports = [b for b in sink.of("coverage_degraded") if b["component"] == "known_identifiers"]
        assert [(b["reason"], b["recovered"]) for b in reports] == ([("key-mismatch", False)] if degraded else [])
