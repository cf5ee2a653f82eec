"""Signed audit checkpoints written by ``serve`` itself, and sent off the database host.

A checkpoint only helps if a copy lives where whoever rewrites the database cannot reach it.
Every ``[audit] checkpoint_s`` the running collector writes one to ``[audit] checkpoint_dir``
(atomically, named by its UTC time) and sends it on every notification channel: attached to
an email, in the body of a webhook POST. The send does not go through the notice queue in the
database, on purpose: the copy must not depend on the store it vouches for.

A write or send that fails is logged (the first failure with its traceback, then one line
per retry, then "recovered"), counted through ``on_step``, and retried with backoff; a newer
checkpoint replaces an older one still waiting for a channel. Nothing here ever stops serve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collector.notify.base import Channel
from collector.pki import PkiPaths
from collector.store.workflow_base import WorkflowStore
from collector.workflow.checkpoints import signed_checkpoint, write_atomically
from collector.workflow.dispatch import RetryRule
from collector.workflow.times import utc_now

log = logging.getLogger(__name__)

PREFIX, SUFFIX = "audit-checkpoint-", ".json"
_NAME_TIME = "%Y%m%dT%H%M%SZ"
DEFAULT_DIR_NAME = "audit-checkpoints"  # in --data-dir, unless [audit] checkpoint_dir says otherwise
KIND = "audit_checkpoint"  # the notice kind on the channels
_LONGEST_SLEEP_S = 30.0


@dataclass(frozen=True)
class CheckpointSchedule:
    """``[audit]``: how often the running collector checkpoints the chain (0: never) and where."""

    interval_s: float = 86_400.0
    directory: Path | None = None  # None: DEFAULT_DIR_NAME in the data dir
    retry_first_s: float = 30.0
    retry_cap_s: float = 900.0

    def retry(self) -> RetryRule:
        """Backoff for a failed write or send; never longer than the interval (a retry is due by the next one)."""
        return RetryRule(
            timedelta(seconds=min(self.retry_first_s, self.interval_s)),
            timedelta(seconds=min(self.retry_cap_s, self.interval_s)),
        )

    def folder(self, data_dir: Path) -> Path:
        """Where the checkpoints go for a collector with this data dir."""
        return self.directory if self.directory is not None else data_dir / DEFAULT_DIR_NAME


def checkpoint_name(at: datetime) -> str:
    """The file name of a checkpoint made at ``at`` (sorts by time)."""
    return f"{PREFIX}{at.astimezone(UTC):{_NAME_TIME}}{SUFFIX}"


def newest_checkpoint_time(folder: Path) -> datetime | None:
    """The time in the newest checkpoint file name in ``folder`` (None: none there, or no folder)."""
    times: list[datetime] = []
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return None
    for name in names:
        if name.startswith(PREFIX) and name.endswith(SUFFIX):
            try:
                times.append(datetime.strptime(name[len(PREFIX) : -len(SUFFIX)], _NAME_TIME).replace(tzinfo=UTC))
            except ValueError:
                continue
    return max(times, default=None)


@dataclass(frozen=True)
class _Written:
    path: Path
    text: str
    seq: int
    hash: str
    at: datetime

    def payload(self) -> dict[str, object]:
        return {
            "message": (
                "Signed audit checkpoint: keep this message. `caseguard-collector audit verify --checkpoint FILE`, "
                "given the attached checkpoint, shows whether the audit trail still extends it."
            ),
            "audit_seq": self.seq,
            "audit_hash": self.hash,
            "at": self.at.isoformat(),
            "checkpoint_file": self.path.name,
            "checkpoint": self.text,
        }


class AuditCheckpointer:
    """A thread that writes a signed checkpoint every ``schedule.interval_s`` and sends it on ``channels``."""

    def __init__(
        self,
        store: WorkflowStore,
        paths: PkiPaths,
        folder: Path,
        schedule: CheckpointSchedule,
        channels: Sequence[Channel],
        *,
        clock: Callable[[], datetime] = utc_now,
        on_step: Callable[[str, bool], None] | None = None,
    ) -> None:
        if schedule.interval_s <= 0:
            raise ValueError("automatic checkpoints need an interval above 0")
        self._store = store
        self._paths = paths
        self.folder = folder
        self._retry = schedule.retry()
        self._interval = timedelta(seconds=schedule.interval_s)
        self._channels = tuple(channels)
        self._clock = clock
        self._on_step = on_step
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caseguard-audit-checkpoints", daemon=True)
        self._unsent: dict[str, _Written] = {}  # channel -> the newest checkpoint it has not taken yet
        self._retry_at: dict[str, datetime] = {}  # step ("write" or a channel) -> not before
        self._attempts: dict[str, int] = {}
        self.failing: dict[str, str] = {}  # step -> its last error, while it keeps failing
        self._due = clock()

    def start(self) -> None:
        """Start the thread; the first checkpoint is due one interval after the newest one in the folder."""
        newest = newest_checkpoint_time(self.folder)
        now = self._clock()
        if newest is not None:
            self._due = min(newest, now) + self._interval
        if not self._channels:
            log.warning(
                "audit checkpoints go to %s only: no notification channel ([notify]) carries a copy off this host",
                self.folder,
            )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the current step."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            if now >= self._due and self._ready("write", now):
                self._write(now)
            for channel in self._channels:
                if channel.name in self._unsent and self._ready(channel.name, self._clock()):
                    self._send(channel)
            self._stop.wait(self._sleep_s())

    def _ready(self, step: str, now: datetime) -> bool:
        return now >= self._retry_at.get(step, now)

    def _sleep_s(self) -> float:
        now = self._clock()
        wakes = [max(self._due, self._retry_at.get("write", self._due))]
        wakes += [self._retry_at.get(name, now) for name in self._unsent]
        return min(max((min(wakes) - now).total_seconds(), 0.05), _LONGEST_SLEEP_S)

    def _write(self, now: datetime) -> None:
        path = self.folder / checkpoint_name(now)
        try:
            checkpoint, text = signed_checkpoint(self._store, self._paths, now)
            write_atomically(path, text)
        except Exception as exc:
            self._failed("write", exc, f"writing to {self.folder}")
            return
        self._due = now + self._interval
        written = _Written(path, text, checkpoint.seq, checkpoint.hash, now)
        for channel in self._channels:
            self._unsent[channel.name] = written  # a newer checkpoint replaces one still waiting
            self._retry_at.pop(channel.name, None)
        log.info("audit checkpoint of entry %d written to %s", checkpoint.seq, path)
        self._succeeded("write")

    def _send(self, channel: Channel) -> None:
        written = self._unsent[channel.name]
        try:
            channel.send(KIND, written.payload())
        except Exception as exc:
            self._failed(channel.name, exc, f"sending it by {channel.name}")
            return
        del self._unsent[channel.name]
        log.info("audit checkpoint %s sent by %s", written.path.name, channel.name)
        self._succeeded(channel.name)

    def _failed(self, step: str, exc: Exception, doing: str) -> None:
        attempts = self._attempts.get(step, 0) + 1
        self._attempts[step] = attempts
        wait = self._retry.delay(attempts)
        self._retry_at[step] = self._clock() + wait
        if step not in self.failing:
            log.error("audit checkpoint failed %s: %s; retrying in %s", doing, exc, wait, exc_info=exc)
        else:
            log.error("audit checkpoint still failing %s (attempt %d): %s", doing, attempts, exc)
        self.failing[step] = f"{type(exc).__name__}: {exc}"
        self._report(step, False)

    def _succeeded(self, step: str) -> None:
        self._attempts.pop(step, None)
        self._retry_at.pop(step, None)
        if self.failing.pop(step, None) is not None:
            log.warning("audit checkpoint %s recovered", "writing" if step == "write" else f"sending by {step}")
        self._report(step, True)

    def _report(self, step: str, ok: bool) -> None:
        if self._on_step is not None:
            try:
                self._on_step(step, ok)
            except Exception:
                log.exception("audit checkpoint metrics hook failed")
