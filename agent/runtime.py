"""The agent runtime: wires producers -> outbox -> sender, owns the threads and shutdown."""

from __future__ import annotations

import logging
import platform
import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

from agent.config import AgentConfig
from agent.outbox import Outbox, PendingEvent
from agent.transport import codec
from agent.transport.client import CollectorClient
from agent.transport.credentials import DeviceCredentials, load_credentials
from agent.transport.retry import Backoff
from agent.transport.sender import Sender
from agent.version import AGENT_VERSION

log = logging.getLogger(__name__)


def _encode(event: PendingEvent, *, device_id: str) -> bytes:
    return codec.encode_event(event, device_id=device_id, agent_version=AGENT_VERSION)


def open_outbox(config: AgentConfig, device_id: str) -> Outbox:
    """The outbox for this device, encoding events with its identity."""
    return Outbox(
        config.outbox_path,
        encode=partial(_encode, device_id=device_id),
        max_events=config.outbox.max_events,
    )


class OutboxSink:
    """The EventSink producers use: commits each event to the outbox before returning."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        """Commit one event."""
        self._outbox.append(kind, body)


class AgentRuntime:
    """Everything `caseguard-agent run` does, startable and stoppable from tests."""

    def __init__(self, config: AgentConfig, credentials: DeviceCredentials | None = None) -> None:
        self.config = config
        c = config.collector
        self.credentials = credentials or load_credentials(c.ca, c.cert, c.key)
        self.outbox = open_outbox(config, self.credentials.device_id)
        self.sink = OutboxSink(self.outbox)
        self.client = CollectorClient(
            c.addresses,
            self.credentials,
            server_name=c.server_name,
            timeout_s=c.timeout_s,
            max_message_bytes=c.max_message_bytes,
        )
        r = config.retry
        self.sender = Sender(
            self.outbox,
            self.client,
            backoff=Backoff(r.initial_backoff_s, r.max_backoff_s, r.multiplier, r.jitter),
            batch_size=config.outbox.batch_size,
            max_message_bytes=c.max_message_bytes,
        )
        self.outbox.set_on_commit(self.sender.wake)
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="caseguard-heartbeat", daemon=True)

    def start(self) -> None:
        """Record the start, then start delivering and heartbeating."""
        self.sink.emit(
            "agent_started",
            {"os": platform.system(), "os_version": platform.release(), "components": ["outbox", "sender"]},
        )
        self.sender.start()
        self._heartbeat.start()
        log.info("agent %s started as device %s", AGENT_VERSION, self.credentials.device_id)

    def wait(self) -> None:
        """Block until stop() is called."""
        self._stop.wait()

    def stop(self, reason: str = "shutdown") -> None:
        """Record the stop and shut down promptly; undelivered events stay in the outbox."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self.sink.emit("agent_stopping", {"reason": reason})
        except Exception:  # the outbox may already be unusable; stopping matters more
            log.exception("could not record agent_stopping")
        self.sender.stop()
        self.client.close()
        self.sender.join(timeout=5)
        self._heartbeat.join(timeout=5)
        self.outbox.close()
        log.info("agent stopped (%s)", reason)

    def _heartbeat_loop(self) -> None:
        interval = self.config.heartbeat.interval_s
        while not self._stop.wait(interval):
            try:
                self.sink.emit(
                    "heartbeat",
                    {"outbox_depth": self.outbox.depth(), "interval_s": int(interval), "posture": {}},
                )
            except Exception:
                log.exception("heartbeat: could not record")
