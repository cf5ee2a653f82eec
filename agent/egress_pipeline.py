"""Egress detection in the running agent: destinations -> watcher -> classifier -> outbox.

Removable volumes are found at start and as they come and go; personal cloud folders are
discovered from the clients' own configuration (and rediscovered periodically). Each file
that arrives complete at a destination is classified against the protected-store index; a
case file becomes a ``case_file_egress`` event, and a file that cannot be judged (encrypted,
unsupported, over budget, corrupt) an ``uninspectable_file`` event. A newly mounted volume is scanned once and
the case files already on it are reported together as ``case_files_found``.

Nothing about a file's contents leaves the laptop, and by default no name or path either:
events carry the extension, size, an HMAC of the SHA-256 under the organisation's key,
identifier counts, labels, markings, reasons and confidence (README: "What leaves the laptop").
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirDeletedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from agent.classify import Verdict
from agent.config import AgentConfig
from agent.egress.homes import user_homes
from agent.egress.model import Destination, Volume, destination_for_volume
from agent.egress.personal_dirs import discover_personal
from agent.egress.scan import scan_once
from agent.egress.volumes import VolumeMonitor, default_volume_source
from agent.egress.watcher import EgressWatcher
from agent.events import EventSink
from agent.file_judge import FileJudge

log = logging.getLogger(__name__)

MAX_FILES_PER_FOUND_EVENT = 200  # keeps one event well under the 4 MiB message cap
_STOP = object()


class EgressPipeline:
    """Owns the egress threads: volume monitor, destination watcher, classifier, index upkeep."""

    def __init__(self, config: AgentConfig, sink: EventSink, org_key: bytes) -> None:
        self._config = config
        self._sink = sink
        self._key = org_key
        self._file_judge = FileJudge(config, org_key)  # the same judging `caseguard-agent classify` does
        self._reveal = config.privacy.reveal_names
        self._stop = threading.Event()
        self.index = self._file_judge.index
        self._work: queue.Queue[Any] = queue.Queue()
        self.watcher = EgressWatcher(
            self._file_ready, self._degraded, settle_s=config.egress.settle_s, burst_gap_s=config.egress.burst_gap_s
        )
        self.volumes = VolumeMonitor(
            default_volume_source(org_key),
            self._volume_added,
            self._volume_removed,
            poll_interval_s=config.egress.volume_poll_s,
            stop_event=self._stop,
        )
        self._personal: dict[Path, Destination] = {}
        self._workers = [
            threading.Thread(target=self._work_loop, name=f"caseguard-classify-{i}", daemon=True)
            for i in range(config.egress.classifier_threads)
        ]
        self._upkeep = threading.Thread(target=self._upkeep_loop, name="caseguard-egress-upkeep", daemon=True)
        self._roots_observer: Any = None
        self.classified = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Start watching. The first index reconcile runs in the background."""
        for w in self._workers:
            w.start()
        self.watcher.start()
        self._rediscover_personal()
        self.volumes.start()
        self._watch_protected_roots()
        self._upkeep.start()

    def stop(self) -> None:
        """Stop every thread; queued classifications not yet done are dropped (files stay put)."""
        self._stop.set()
        self.volumes.stop()
        self.watcher.stop()
        if self._roots_observer is not None:
            self._roots_observer.stop()
            self._roots_observer.join(5)
        for _ in self._workers:
            self._work.put(_STOP)
        for w in self._workers:
            w.join(10)
        self._upkeep.join(10)
        self.index.close()

    # -- destinations ------------------------------------------------------------------

    def _rediscover_personal(self) -> None:
        eg = self._config.egress
        homes = list(eg.homes) if eg.homes else user_homes()
        current: dict[Path, Destination] = {}
        for i, home in enumerate(homes or [Path.home()]):
            found = discover_personal(
                personal_dirs=eg.personal_dirs if i == 0 else (),
                approved_dirs=eg.approved_dirs,
                include_business=eg.include_business,
                home=home,
            )
            current.update((d.path, d) for d in found.destinations)
        for path, dest in self._personal.items():
            if path not in current:
                self.watcher.remove(dest)
        for path, dest in current.items():
            if path not in self._personal:
                self.watcher.add(dest)
        if current.keys() != self._personal.keys():
            log.info("watching %d personal folder(s)", len(current))
        self._personal = current

    def _volume_added(self, volume: Volume) -> None:
        body = volume.identity.as_event_body(reveal_names=self._reveal)
        self._sink.emit("volume_mounted", {"volume": body})
        destination = destination_for_volume(volume)
        self.watcher.add(destination)
        self._work.put(("scan", destination))

    def _volume_removed(self, volume: Volume) -> None:
        self.watcher.remove(destination_for_volume(volume))
        self._sink.emit("volume_unmounted", {"volume": volume.identity.as_event_body(reveal_names=self._reveal)})

    # -- callbacks from the watcher (its thread: only enqueue) ---------------------------

    def _file_ready(self, destination: Destination, path: Path, arrival: str, burst_id: str) -> None:
        self._work.put(("file", destination, path, arrival, burst_id))

    def _degraded(self, component: str, reason: str, scope: str, recovered: bool) -> None:
        self._sink.emit(
            "coverage_degraded", {"component": component, "reason": reason, "scope": scope, "recovered": recovered}
        )

    # -- work --------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while True:
            item = self._work.get()
            if item is _STOP:
                return
            try:
                if item[0] == "file":
                    self._judge(*item[1:])
                elif item[0] == "scan":
                    self._scan(item[1])
            except Exception:  # one bad file or volume must not stop egress detection
                log.exception("egress: %s failed", item[0])

    def _judge(self, destination: Destination, path: Path, arrival: str, burst_id: str) -> None:
        verdict = self._file_judge.judge(path)
        self.classified += 1
        if not verdict.case_file and not verdict.uninspectable:
            return
        body: dict[str, Any] = {
            "destination_class": destination.destination_class,
            "destination_kind": destination.kind,
            "copy_burst_id": burst_id,
            "arrival": arrival,
        }
        if destination.volume is not None:
            body["volume"] = destination.volume.as_event_body(reveal_names=self._reveal)
        if verdict.case_file:
            body["file"] = self._match(verdict, destination, path)
            self._sink.emit("case_file_egress", body)
            log.warning("case file arrived at a %s destination (%s)", destination.kind, ",".join(verdict.reasons))
            return
        # Nothing is known of what is inside: IG hears that it went out (grouped per burst by the collector).
        body.update(verdict.to_uninspectable_body(self._keyed_hash(verdict)))
        body.update(self._names(destination, path))
        self._sink.emit("uninspectable_file", body)
        log.info("a file that could not be judged (%s) arrived at a %s destination", verdict.error, destination.kind)

    def _scan(self, destination: Destination) -> None:
        scan = scan_once(destination, limit=self._config.egress.scan_limit)
        scan_id = str(uuid.uuid4())
        matches: list[dict[str, Any]] = []
        sent = False
        for path in scan:
            if self._stop.is_set():
                return
            verdict = self._file_judge.judge(path)
            if verdict.case_file:
                matches.append(self._match(verdict, destination, path))
            if len(matches) == MAX_FILES_PER_FOUND_EVENT:
                self._emit_found(destination, matches, scan, scan_id, final=False)
                matches, sent = [], True
        if matches or not sent:
            self._emit_found(destination, matches, scan, scan_id, final=True)

    def _emit_found(self, destination: Destination, matches: list[dict[str, Any]], scan: Any, scan_id: str,
                    final: bool) -> None:
        if not matches:
            return  # a clean volume is not an alert; volume_mounted already recorded it
        assert destination.volume is not None
        self._sink.emit(
            "case_files_found",
            {
                "volume": destination.volume.as_event_body(reveal_names=self._reveal),
                "files": matches,
                "files_scanned": scan.files_scanned,
                "truncated": bool(final and scan.truncated),
                "scan_id": scan_id,
            },
        )

    def _match(self, verdict: Verdict, destination: Destination, path: Path) -> dict[str, Any]:
        body = verdict.to_match_body(self._keyed_hash(verdict))
        body.update(self._names(destination, path))
        return body

    def _keyed_hash(self, verdict: Verdict) -> str:
        return hmac.new(self._key, verdict.sha256.encode(), hashlib.sha256).hexdigest() if verdict.sha256 else ""

    def _names(self, destination: Destination, path: Path) -> dict[str, str]:
        if not self._reveal:
            return {}
        return {"file_name": path.name, "relative_path": os.path.relpath(path, destination.path)}

    # -- protected stores --------------------------------------------------------------

    def _upkeep_loop(self) -> None:
        interval = self._config.case_files.reconcile_interval_s
        while not self._stop.is_set():
            try:
                stats = self.index.reconcile(self._stop)
                log.info("protected-store index reconciled: %s", stats)
            except Exception:
                log.exception("protected-store index: reconcile failed")
                self._degraded("index", "reconcile-failed", "protected-store", False)
            if self._stop.wait(min(interval, self._config.egress.rediscover_s)):
                return
            try:
                self._rediscover_personal()
            except Exception:
                log.exception("personal folder discovery failed")

    def _watch_protected_roots(self) -> None:
        roots = [r for r in self._config.case_files.roots if r.is_dir()]
        if not roots:
            return
        handler = _ProtectedRootsHandler(self.index.note_changed, self.index.note_deleted)
        observer = Observer()
        for root in roots:
            observer.schedule(
                handler,
                str(root),
                recursive=True,
                event_filter=[FileCreatedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent, DirDeletedEvent],
            )
        observer.daemon = True
        observer.start()
        self._roots_observer = observer


class _ProtectedRootsHandler(FileSystemEventHandler):
    """Keeps the index current between reconciles (the periodic reconcile catches anything missed)."""

    def __init__(self, changed: Callable[[str], int], deleted: Callable[[str], int]) -> None:
        self._changed = changed
        self._deleted = deleted

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if isinstance(event, FileMovedEvent):
                self._deleted(os.fsdecode(event.src_path))
                self._changed(os.fsdecode(event.dest_path))
            elif isinstance(event, FileDeletedEvent | DirDeletedEvent):
                self._deleted(os.fsdecode(event.src_path))
            elif isinstance(event, FileClosedEvent):
                self._changed(os.fsdecode(event.src_path))
        except Exception:
            log.exception("protected-store index: update failed")


def load_org_key(config: AgentConfig) -> bytes:
    """The organisation's HMAC key, or a device-local one (with a warning) when none is configured."""
    path = config.privacy.org_key_file
    if path is not None:
        key = path.read_bytes().strip()
        if len(key) < 16:
            raise ValueError(f"{path}: the organisation key must be at least 16 bytes")
        return key
    local = config.state_dir / "device-hmac.key"
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32).hex().encode())
    log.warning("no [privacy] org_key_file: keyed hashes are device-local and will not correlate across devices")
    return local.read_bytes().strip()
