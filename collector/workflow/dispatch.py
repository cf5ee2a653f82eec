"""Delivering queued notices: a transactional outbox with per-channel progress.

Notices are queued in the same transaction as the change they announce (``batch``,
``checks``), with a unique dedupe key, so one change queues one notice even if the
workflow runs twice. The dispatcher then sends each notice on every configured channel
and records each channel's success. Before sending, a collector claims the notice in the
store (``claim_notification``: a lease in ``wf_notice_claims``), so several collectors sharing
one database send each notice once; a lease left by a collector that died mid-send expires
(``DEFAULT_LEASE``) and another collector takes the notice over. Delivery is at-least-once per channel: a crash
between the SMTP server accepting a mail and the success being recorded sends it again
on restart; nothing else can. Failures are retried with capped exponential backoff.

A notice is delivered once every *configured* channel took it. With no channel configured
at all, nothing is delivered: notices stay queued and are counted as not sent (so the
console and the staff pages never say somebody was told when nobody was), and go out
once a channel is configured.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.notify.base import Channel, NotifyError
from collector.store.workflow_base import PendingNotification, WorkflowStore
from collector.workflow.times import to_us

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryRule:
    """Backoff between failed attempts: ``first`` doubled each time, capped at ``cap``."""

    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure (1-based)."""
        wait: timedelta = self.first * (2 ** max(attempts - 1, 0))
        return min(wait, self.cap)


NO_CHANNEL = "no notification channel is configured"
# How long a claimed notice is this collector's to send; past it (the collector died
# mid-send) another takes it over. Longer than any send: both channels' timeouts and retries.
DEFAULT_LEASE = timedelta(minutes=5)


def to_us_delta(span: timedelta) -> int:
    """A duration in whole microseconds."""
    return span // timedelta(microseconds=1)


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatch round did: notices delivered, failed, and left unsent for want of a channel."""

    delivered: int = 0
    failed: int = 0
    unsent: int = 0


class Dispatcher:
    """Sends pending notices on the email and webhook channels (either may be None)."""

    def __init__(
        self,
        store: WorkflowStore,
        clock: Callable[[], datetime],
        *,
        email: Channel | None = None,
        webhook: Channel | None = None,
        retry: RetryRule = RetryRule(),
        holder: str = "",
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        self._store = store
        self._holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = lease
        self._clock = clock
        self._email = email
        self._webhook = webhook
        self._retry = retry

    @property
    def channels(self) -> tuple[str, ...]:
        """The names of the configured channels (empty: notices cannot be sent)."""
        return tuple(c.name for c in (self._email, self._webhook) if c is not None)

    def send_test(self) -> dict[str, str | None]:
        """Send a test notice on every configured channel now: channel -> None if delivered, else why not."""
        payload = {"message": "Caseguard test notice: this channel delivers.", "sent_at": self._clock().isoformat()}
        outcome: dict[str, str | None] = {}
        for channel in (self._email, self._webhook):
            if channel is None:
                continue
            try:
                channel.send("test", payload)
                outcome[channel.name] = None
            except NotifyError as exc:
                outcome[channel.name] = str(exc)
        return outcome

    def dispatch(self) -> DispatchReport:
        """Try every notice that is due; returns how many were fully delivered, failed or left unsent."""
        now = self._clock()
        pending = self._store.pending_notifications(to_us(now))
        if not self.channels:
            if pending:
                log.warning("%d notice(s) not sent: %s", len(pending), NO_CHANNEL)
            return DispatchReport(unsent=len(pending))
        delivered = failed = 0
        # Claim one notice at a time (each lease covers one send): another collector on the
        # same database never sends a notice this one holds.
        for _ in range(len(pending)):
            notice = self._store.claim_notification(self._holder, to_us(now), to_us_delta(self._lease))
            if notice is None:
                break
            if self._deliver(notice, now):
                delivered += 1
            else:
                failed += 1
        return DispatchReport(delivered, failed)

    def _deliver(self, notice: PendingNotification, now: datetime) -> bool:
        errors: list[str] = []
        email_done = notice.email_done or self._send(self._email, notice, errors)
        webhook_done = notice.webhook_done or self._send(self._webhook, notice, errors)
        attempts = notice.attempts + (1 if errors else 0)
        retry_at = now + self._retry.delay(attempts) if errors else now
        self._store.update_notification(
            notice.id,
            email_done=email_done,
            webhook_done=webhook_done,
            attempts=attempts,
            next_attempt_us=to_us(retry_at),
            error="; ".join(errors) or None,
        )
        return not errors

    @staticmethod
    def _send(channel: Channel | None, notice: PendingNotification, errors: list[str]) -> bool:
        if channel is None:
            return True
        try:
            channel.send(notice.kind, notice.payload)
        except NotifyError as exc:
            log.warning("%s notice %s for %s not delivered: %s", channel.name, notice.kind, notice.incident_id, exc)
            errors.append(f"{channel.name}: {exc}")
            return False
        log.info("%s notice %s for %s delivered", channel.name, notice.kind, notice.incident_id)
        return True
