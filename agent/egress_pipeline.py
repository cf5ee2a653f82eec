"""Egress detection in the running agent: destinations -> watcher -> classifier -> outbox.

Removable volumes are found at start and as they come and go; personal cloud folders are
discovered from the clients' own configuration (and rediscovered periodically). Each file
that arrives complete at a destination is classified against the protected-store index; a
case file becomes a ``case_file_egress`` event, and a file that cannot be judged (encrypted,
unsupported, over budget, corrupt) an ``uninspectable_file`` event. A newly mounted volume is scanned once and
the case files already on it are reported together as ``case_files_found``. A phone or camera attached
over MTP/PTP (Windows) has no file system to watch: it is an ``uninspectable_destination`` when it comes
and when it goes.

Nothing about a file's contents leaves the laptop, and by default no name or path either:
events carry the extension, size, an HMAC of the SHA-256 under the organisation's key,
identifier counts, labels, markings, reasons and confidence (README: "What leaves the laptop").
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import queue
import sys
import threading
import time
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
from agent.coverage import CoverageTracker, probe_dir, reason_for_error
from agent.egress.model import Destination, Volume, destination_for_volume
from agent.egress.notices import TITLE as NOTICE_TITLE
from agent.egress.notices import BurstNotices, notice_text
from agent.egress.personal_dirs import discover_personal, expand_home
from agent.egress.portable_devices import (
    PortableDevice,
    PortableDeviceMonitor,
    PortableDeviceSource,
    PortableQueryFailed,
)
from agent.egress.scan import scan_once
from agent.egress.users import UserProfile, signed_in_sids, user_profiles
from agent.egress.volumes import VolumeMonitor, VolumeSource, default_volume_source
from agent.egress.watcher import EgressWatcher
from agent.events import EventSink
from agent.file_judge import FileJudge
from agent.host import Host
from agent.policy.session_file import post_notice
from caseguard.identifiers import key_check

log = logging.getLogger(__name__)

LOGON_POLL_S = 2.0  # reading HKU's subkey names is cheap
MAX_FILES_PER_FOUND_EVENT = 200  # keeps one event well under the 4 MiB message cap
_STOP = object()
# Coverage parts this pipeline reports on (component, scope); scopes are classes, never paths.
COMPONENT_INDEX = "index"
COMPONENT_DESTINATION = "egress-watcher"
COMPONENT_VOLUMES = "volume-monitor"
COMPONENT_PORTABLE = "portable-devices"
COMPONENT_USER_HIVE = "user-hive"
SCOPE_PROTECTED = "protected-store"
SCOPE_PERSONAL_FOLDER = "DESTINATION_CLASS_PERSONAL_FOLDER"
SCOPE_REMOVABLE = "DESTINATION_CLASS_REMOVABLE_VOLUME"
SCOPE_PORTABLE = "DESTINATION_CLASS_PORTABLE_DEVICE"
SCOPE_PERSONAL_CLOUD = "personal-cloud"


# uids that stand for no one: nobody/nogroup (also NFS's unmapped owner) and macOS's "unknown"
# (what a volume mounted without ownership reports).
_NO_ONE = frozenset({65534, 99})


def _owner(destination: Destination) -> int | None:
    """Whose destination this is, to tell that person: the uid owning the personal folder or the
    stick's mount point (udisks mounts a stick's root as whoever mounted it), on POSIX. None (every
    session is told) on Windows, for root's, no one's or a vanished destination: better told twice
    than not at all. The destination, not the file: a file moved in keeps its old owner."""
    if sys.platform == "win32":
        return None
    try:
        uid = os.stat(destination.path).st_uid
    except OSError:
        return None
    return None if uid == 0 or uid in _NO_ONE else uid


class EgressPipeline:
    """Owns the egress threads: volume monitor, destination watcher, classifier, index upkeep."""

    def __init__(
        self,
        config: AgentConfig,
        sink: EventSink,
        org_key: bytes,
        host: Host | None = None,
        *,
        coverage: CoverageTracker | None = None,
        clock: Callable[[], float] = time.monotonic,
        volume_source: VolumeSource | None = None,
        portable_source: PortableDeviceSource | None = None,
    ) -> None:
        """``host``: the OS the backends are chosen for (default: this one); ``coverage``: where
        watching and not watching is reported; ``volume_source``: where removable volumes come
        from (default: this OS's, chosen once); ``portable_source``: where MTP/PTP devices come
        from (default: Windows's CIM query on Windows, none elsewhere)."""
        self._config = config
        self._host = host if host is not None else Host.current()
        self._sink = sink
        self._coverage = coverage or CoverageTracker(sink.emit)
        self._clock = clock
        self._key = org_key
        self._file_judge = FileJudge(config, org_key)  # the same judging `caseguard-agent classify` does
        self._reveal = config.privacy.reveal_names
        self._stop = threading.Event()
        self.index = self._file_judge.index
        self._work: queue.Queue[Any] = queue.Queue()
        self.watcher = EgressWatcher(
            self._file_ready, self._degraded, settle_s=config.egress.settle_s, burst_gap_s=config.egress.burst_gap_s
        )
        # A source made here is ours to release at stop (the Linux one holds mountinfo open).
        self._own_source: VolumeSource | None = None
        if volume_source is None:
            volume_source = self._own_source = default_volume_source(
                org_key, platform=self._host.platform, media_roots=[str(r) for r in config.egress.media_roots]
            )
        self.volumes = VolumeMonitor(
            volume_source,
            self._volume_added,
            self._volume_removed,
            poll_interval_s=config.egress.volume_poll_s,
            stop_event=self._stop,
            on_failure=self._volumes_failing,
        )
        if portable_source is None and self._host.is_windows:
            from agent.egress.portable_windows import WindowsPortableSource

            portable_source = WindowsPortableSource()
        self.portable: PortableDeviceMonitor | None = None
        if portable_source is not None:
            self.portable = PortableDeviceMonitor(
                portable_source,
                lambda device: self._portable_changed(device, attached=True),
                lambda device: self._portable_changed(device, attached=False),
                poll_interval_s=config.egress.portable_poll_s,
                stop_event=self._stop,
                on_failure=self._portable_failing,
            )
        self._personal: dict[Path, Destination] = {}
        self._unavailable_since: dict[Path, int] = {}  # configured folders we cannot watch (wall ns)
        self._root_watches: dict[Path, Any] = {}  # protected root -> its watchdog watch
        self._failing_roots: set[Path] = set()
        self._workers = [
            threading.Thread(target=self._work_loop, name=f"caseguard-classify-{i}", daemon=True)
            for i in range(config.egress.classifier_threads)
        ]
        self._upkeep = threading.Thread(target=self._upkeep_loop, name="caseguard-egress-upkeep", daemon=True)
        # Windows: a person signing in loads their hive under HKU; rediscover then, not at the next sweep.
        self._discovery_lock = threading.Lock()
        self._signed_in: frozenset[str] = frozenset()
        self._logons = threading.Thread(target=self._logon_loop, name="caseguard-logon-watch", daemon=True)
        self._roots_observer: Any = None
        self.classified = 0
        self._bursts = BurstNotices()
        self._bursts_lock = threading.Lock()
        self._notice_failing = ""  # why notices cannot be written, while they cannot

    # -- lifecycle ---------------------------------------------------------------------

    def _check_identifier_key(self) -> None:
        """Known identifiers hashed under another key than this laptop's match nothing: say so."""
        cf = self._config.case_files
        made_with = cf.known_identifier_key_check
        if cf.known_identifier_hashes and made_with and key_check(self._key) != made_with:
            log.error("the central policy's known identifiers were hashed under another organisation key than"
                      " this laptop's ([privacy] org_key_file): none of them can be recognised here")  # fmt: skip
            self._degraded("known_identifiers", "key-mismatch", "policy", False)

    def start(self) -> None:
        """Start watching. The first index reconcile runs in the background."""
        self._check_identifier_key()
        for w in self._workers:
            w.start()
        self.watcher.start()
        try:
            self._rediscover_personal()
        except Exception as exc:  # discovery is foreign configuration; the rest must still start
            log.exception("personal folder discovery failed")
            self._coverage.failing(COMPONENT_DESTINATION, "discovery", "personal-cloud", reason_for_error(exc))
        self.volumes.start()
        if self.portable is not None:
            self.portable.start()
        self._check_protected_roots()
        self._upkeep.start()
        if self._host.is_windows and self._host.registry is not None:
            self._logons.start()

    def stop(self) -> None:
        """Stop every thread; queued classifications not yet done are dropped (files stay put)."""
        self._stop.set()
        self.volumes.stop()
        if self.portable is not None:
            self.portable.stop()
        close = getattr(self._own_source, "close", None)
        if close is not None:
            close()
        self.watcher.stop()
        if self._roots_observer is not None:
            self._roots_observer.stop()
            self._roots_observer.join(5)
        for _ in self._workers:
            self._work.put(_STOP)
        for w in self._workers:
            w.join(10)
        self._upkeep.join(10)
        if self._logons.is_alive():
            self._logons.join(10)
        self.index.close()

    # -- destinations ------------------------------------------------------------------

    def _sessions(self) -> frozenset[str]:
        registry = self._host.registry
        return signed_in_sids(registry) if self._host.is_windows and registry is not None else frozenset()

    def _logon_loop(self) -> None:
        while not self._stop.wait(LOGON_POLL_S):
            try:
                if self._sessions() != self._signed_in:
                    log.info("a person signed in or out: rediscovering personal folders")
                    self._rediscover_personal()
            except Exception:
                log.exception("personal folder discovery after a logon failed")

    def _rediscover_personal(self) -> None:
        with self._discovery_lock:
            self._rediscover_personal_locked()

    def _rediscover_personal_locked(self) -> None:
        eg = self._config.egress
        profiles = user_profiles(self._host, eg.homes) or [UserProfile(Path.home(), self._host.env)]
        current: dict[Path, Destination] = {}
        for i, profile in enumerate(profiles):
            configured = eg.personal_dirs if i == 0 else ()
            usable = tuple(p for p in configured if self._configured_folder_usable(expand_home(p, profile.home)))
            found = discover_personal(
                personal_dirs=usable,
                approved_dirs=eg.approved_dirs,
                include_business=eg.include_business,
                platform=self._host.platform,
                home=profile.home,
                env=profile.env,
                registry=profile.registry,
                user_sid=profile.sid,
            )
            current.update((d.path, d) for d in found.destinations)
        self._signed_in = self._sessions()
        for path, dest in self._personal.items():
            if path not in current:
                self.watcher.remove(dest)
        for path, dest in current.items():
            if path not in self._personal:
                # A folder that was unreadable or missing: judge what arrived there meanwhile.
                since = self._unavailable_since.pop(path, None)
                self.watcher.add(dest, rescan_since_ns=since)
        if current.keys() != self._personal.keys():
            log.info("watching %d personal folder(s)", len(current))
        self._personal = current

    def _configured_folder_usable(self, folder: Path) -> bool:
        """Whether a configured personal folder can be watched; reports it degraded or restored."""
        key = os.fspath(folder)
        reason = probe_dir(key)
        if reason is None:
            self._coverage.working(COMPONENT_DESTINATION, key)
            return True
        real = Path(os.path.realpath(folder))
        self._unavailable_since.setdefault(real, time.time_ns())
        self._coverage.failing(COMPONENT_DESTINATION, key, SCOPE_PERSONAL_FOLDER, reason)
        return False

    def _volumes_failing(self, exc: OSError | None) -> None:
        if exc is None:
            self._coverage.working(COMPONENT_VOLUMES, "snapshot")
        else:
            self._coverage.failing(COMPONENT_VOLUMES, "snapshot", SCOPE_REMOVABLE, reason_for_error(exc))

    def _portable_changed(self, device: PortableDevice, *, attached: bool) -> None:
        self._sink.emit("uninspectable_destination", device.event_body(self._key, attached=attached))
        if attached:
            log.warning("a %s portable device was attached; what is copied to it cannot be inspected", device.kind)

    def _portable_failing(self, exc: OSError | None) -> None:
        if exc is None:
            self._coverage.working(COMPONENT_PORTABLE, "snapshot")
            return
        reason = str(exc) if isinstance(exc, PortableQueryFailed) else reason_for_error(exc)
        self._coverage.failing(COMPONENT_PORTABLE, "snapshot", SCOPE_PORTABLE, reason)

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
            self._tell_the_person(destination, burst_id)
            return
        # Nothing is known of what is inside: IG hears that it went out (grouped per burst by the collector).
        body.update(verdict.to_uninspectable_body(self._keyed_hash(verdict)))
        body.update(self._names(destination, path))
        self._sink.emit("uninspectable_file", body)
        log.info("a file that could not be judged (%s) arrived at a %s destination", verdict.error, destination.kind)

    def _tell_the_person(self, destination: Destination, burst_id: str) -> None:
        """Hand the session components the notice for this burst (once per burst; never names the file),
        for the sessions of the destination's owner."""
        text = notice_text(destination.destination_class, self._config.egress)
        if text is None:
            return
        with self._bursts_lock:  # classifier threads: one burst check and one failing state at a time
            if not self._bursts.first(burst_id):
                return
            try:
                post_notice(self._config.state_dir, NOTICE_TITLE, text, time.time(), _owner(destination))
            except OSError as exc:
                if not self._notice_failing:
                    self._notice_failing = reason_for_error(exc)
                    log.warning("the person at the laptop cannot be told of a case file: notices unwritable (%s)",
                                self._notice_failing)  # fmt: skip
                    self._degraded("user_notice", self._notice_failing, "notices", False)
                return
            if self._notice_failing:
                log.warning("notices for the person at the laptop are written again")
                self._degraded("user_notice", self._notice_failing, "notices", True)
            self._notice_failing = ""

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

    def _emit_found(
        self, destination: Destination, matches: list[dict[str, Any]], scan: Any, scan_id: str, final: bool
    ) -> None:
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
        """Reconcile the index, rediscover personal folders and retry failing parts, each on its schedule."""
        cf, eg = self._config.case_files, self._config.egress
        retry_s = min(eg.retry_s, cf.reconcile_interval_s, eg.rediscover_s)
        next_reconcile = next_rediscover = self._clock()
        while not self._stop.is_set():
            now = self._clock()
            if self._check_protected_roots() or now >= next_reconcile:
                next_reconcile = now + cf.reconcile_interval_s
                try:
                    stats = self.index.reconcile(self._stop)
                    log.info("protected-store index reconciled: %s", stats)
                    self._coverage.working(COMPONENT_INDEX, "reconcile")
                except Exception as exc:
                    log.exception("protected-store index: reconcile failed")
                    self._coverage.failing(COMPONENT_INDEX, "reconcile", SCOPE_PROTECTED, reason_for_error(exc))
                    next_reconcile = now + retry_s
            if now >= next_rediscover or self._unavailable_since:
                next_rediscover = now + eg.rediscover_s
                try:
                    self._rediscover_personal()
                    self._coverage.working(COMPONENT_DESTINATION, "discovery")
                except Exception as exc:
                    log.exception("personal folder discovery failed")
                    self._coverage.failing(COMPONENT_DESTINATION, "discovery", "personal-cloud", reason_for_error(exc))
            if self._stop.wait(max(0.0, min(next_reconcile, next_rediscover, self._clock() + retry_s) - self._clock())):
                return

    def _check_protected_roots(self) -> bool:
        """Watch every protected root that can be read; report the others. True if one came back."""
        came_back = False
        for root in self._config.case_files.roots:
            key = os.fspath(root)
            watch = self._root_watches.get(root)
            reason = probe_dir(key)
            if reason is None and watch is None:
                try:
                    self._root_watches[root] = self._watch_root(root)
                except OSError as exc:
                    reason = reason_for_error(exc)
            elif reason is not None and watch is not None:
                self._unwatch_root(root)
            if reason is None:
                came_back = came_back or root in self._failing_roots
                self._coverage.working(COMPONENT_INDEX, key)
                self._failing_roots.discard(root)
            else:
                self._failing_roots.add(root)
                self._coverage.failing(COMPONENT_INDEX, key, SCOPE_PROTECTED, reason)
        return came_back

    def _watch_root(self, root: Path) -> Any:
        if self._roots_observer is None:
            observer = Observer()
            observer.daemon = True
            observer.start()
            self._roots_observer = observer
        handler = _ProtectedRootsHandler(self.index.note_changed, self.index.note_deleted)
        return self._roots_observer.schedule(
            handler,
            str(root),
            recursive=True,
            event_filter=[FileCreatedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent, DirDeletedEvent],
        )

    def _unwatch_root(self, root: Path) -> None:
        watch = self._root_watches.pop(root, None)
        if watch is not None and self._roots_observer is not None:
            with contextlib.suppress(KeyError, OSError):  # already gone with its emitter
                self._roots_observer.unschedule(watch)


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
