"""The agent runtime: wires producers -> outbox -> sender, owns the threads and shutdown."""

from __future__ import annotations

import logging
import platform
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from agent.config import AgentConfig
from agent.coverage import CoverageTracker, reason_for_error
from agent.crypto_child import cert_facts_in_child, verify_policy_in_child
from agent.egress.homes import user_homes
from agent.egress_pipeline import EgressPipeline
from agent.file_judge import load_org_key
from agent.host import Host
from agent.outbox import Outbox, PendingEvent
from agent.policy.applier import AppliedPolicy, PolicyApplier, PolicySource, load_cached
from agent.policy.session_file import (
    clear_lockdown,
    prepare_handoff,
    read_lockdown,
    write_lockdown,
    write_session_policy,
)
from agent.posture.encryption import encryption_reader
from agent.posture.monitor import PostureMonitor, PostureProbe
from agent.posture.summary import posture_summary
from agent.session_channel import SessionChannelServer
from agent.transport import codec
from agent.transport.client import CollectorClient
from agent.transport.credentials import DeviceCredentials, load_credentials
from agent.transport.renewal import CertificateRenewer, RenewalClient
from agent.transport.retry import Backoff
from agent.transport.sender import EventClient, Sender
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
        reserve_bytes=config.outbox.reserve_bytes,
    )


class OutboxSink:
    """The EventSink producers use: commits each event to the outbox before returning."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def emit(self, kind: str, body: Mapping[str, Any]) -> None:
        """Commit one event."""
        self._outbox.append(kind, body)


class _SessionView:
    """What the system agent learns from session components, for the heartbeat's posture."""

    def __init__(self) -> None:
        self.lock_posture: Mapping[str, Any] | None = None
        self.last_lock_at: datetime | None = None

    @property
    def enforcing(self) -> bool:
        return bool(self.lock_posture and self.lock_posture.get("enforced_by_agent"))

    def saw(self, kind: str, body: Mapping[str, Any]) -> None:
        if kind == "lock_posture":
            self.lock_posture = dict(body)
        elif kind == "lock_enforced":
            self.last_lock_at = datetime.now(UTC)


class CheckInClient(Protocol):
    """The Heartbeat call: the collector's view of this device (is it reported lost?)."""

    def heartbeat(self, outbox_depth: int, agent_version: str) -> dict[str, Any]: ...


class AgentClient(EventClient, PolicySource, RenewalClient, CheckInClient, Protocol):
    """Everything the runtime's threads ask of the collector (CollectorClient in production)."""

    def close(self) -> None: ...


class AgentRuntime:
    """Everything `caseguard-agent run` does, startable and stoppable from tests."""

    def __init__(
        self,
        config: AgentConfig,
        credentials: DeviceCredentials | None = None,
        host: Host | None = None,
        *,
        client: AgentClient | None = None,
    ) -> None:
        """``host``: the OS whose backends are chosen, once (default: this one); ``client``: the
        transport to the collector (default: mTLS gRPC to the configured addresses)."""
        self.host = host if host is not None else Host.current()
        self.local_config = config
        cached = load_cached(config, verify_policy_in_child)  # the last central policy accepted, re-verified
        if cached is not None:
            config = cached.merged.config
        self.config = config
        c = config.collector
        self.credentials = credentials or load_credentials(c.ca, c.cert, c.key, cert_facts_in_child)
        self.outbox = open_outbox(config, self.credentials.device_id)
        self.sink = OutboxSink(self.outbox)
        self.client: AgentClient = client or CollectorClient(
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
        # The filesystem people's files live on: /home (or the Users folder), not the service's own home.
        homes = user_homes(platform=self.host.platform)
        read_encryption = encryption_reader(self.host.platform, home=str(homes[0] if homes else Path.home()))
        self.posture = PostureMonitor(
            self.sink,
            [
                PostureProbe(
                    "encryption_posture", lambda: read_encryption().body(), config.posture.encryption_interval_s
                )
            ],
            stop_event=self._stop,
        )
        self._session_view = _SessionView()
        self.coverage = CoverageTracker(self.sink.emit)
        self._org_key: bytes | None = None
        self.egress = self._new_egress(config)
        self.policy = PolicyApplier(
            self.local_config,
            self.client,
            self.sink,
            self._apply_policy,
            self._stop,
            cached,
            verify=verify_policy_in_child,
        )
        self.renewer = CertificateRenewer(config, self.client, self._stop, read_cert=cert_facts_in_child)
        self.session_channel = SessionChannelServer(
            config.session.socket, self.sink, self._session_view.saw, platform=self.host.platform
        )
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="caseguard-heartbeat", daemon=True)

    def start(self) -> None:
        """Record the start, then start delivering and heartbeating."""
        self.sink.emit(
            "agent_started",
            {
                "os": platform.system() if self.host.platform == sys.platform else self.host.platform,
                "os_version": platform.release(),
                "policy_version": str(self.policy.version),
                "components": ["outbox", "sender", "posture", "session-channel"]
                + (["egress", "protected-index"] if self.egress is not None else []),
            },
        )
        try:
            if prepare_handoff(self.config.state_dir):
                log.warning("state_dir opened to pass-through (o+x): session parts read its session/ folder")
        except OSError as exc:
            log.error("the session handoff folder could not be prepared: %s", exc)
        write_session_policy(self.config, self.policy.version)
        self.sender.start()
        self.policy.start()
        self.renewer.start()
        self.posture.start()
        self._start_egress()
        try:
            self.session_channel.start()
        except Exception as exc:  # lock enforcement then has no way in: say so, loudly and upstream, and run on
            log.error("cannot listen for session components on %s: %s", self.session_channel.address, exc)
            self.sink.emit(
                "coverage_degraded", {"component": "session-channel", "reason": "session-channel-unavailable"}
            )
        self._heartbeat.start()
        log.info("agent %s started as device %s", AGENT_VERSION, self.credentials.device_id)

    def wait(self) -> None:
        """Block until stop() is called."""
        # Poll rather than block: SIGTERM may be delivered to a worker thread, and the main thread
        # only runs Python signal handlers when it wakes.
        while not self._stop.wait(0.5):
            pass

    def stop(self, reason: str = "shutdown") -> None:
        """Record the stop and shut down promptly; undelivered events stay in the outbox."""
        if self._stop.is_set():
            return
        self._stop.set()
        try:
            self.sink.emit("agent_stopping", {"reason": reason})
        except Exception:  # the outbox may already be unusable; stopping matters more
            log.exception("could not record agent_stopping")
        self.session_channel.stop()
        self.posture.stop()
        self.policy.join(timeout=5)
        self.renewer.join(timeout=5)
        if self.egress is not None:
            self.egress.stop()
        self.sender.stop()
        self.client.close()
        self.sender.join(timeout=5)
        self._heartbeat.join(timeout=5)
        self.outbox.close()
        log.info("agent stopped (%s)", reason)

    def heartbeat_body(self) -> dict[str, Any]:
        """A heartbeat with the latest posture this agent knows (system and session parts)."""
        view = self._session_view
        summary = posture_summary(
            view.lock_posture,
            self.posture.latest("encryption_posture"),
            lock_enforced_by_agent=view.enforcing,
            last_lock_at=view.last_lock_at,
        )
        summary["policy_version"] = str(self.policy.version)
        egress = self.egress
        if egress is not None:
            summary["protected_documents_indexed"] = egress.index.count()
        return {
            "outbox_depth": self.outbox.depth(),
            "interval_s": int(self.config.heartbeat.interval_s),
            "posture": summary,
        }

    def _apply_policy(self, applied: AppliedPolicy) -> None:
        """Run with a new central policy from now on, without restarting the agent."""
        new = applied.merged.config
        old = self.config
        self.config = new
        write_session_policy(new, applied.version)  # session components pick up lock changes
        if (new.egress, new.case_files, new.privacy) != (old.egress, old.case_files, old.privacy):
            if self.egress is not None:
                self.egress.stop()
            self.egress = self._new_egress(new)
            self._start_egress()

    def _new_egress(self, config: AgentConfig) -> EgressPipeline | None:
        """The egress pipeline, or None (reported as degraded) when it cannot be built."""
        if not config.egress.enabled:
            return None
        try:
            if self._org_key is None:
                self._org_key = load_org_key(config)
            pipeline = EgressPipeline(config, self.sink, self._org_key, self.host, coverage=self.coverage)
        except (OSError, ValueError) as exc:  # an unreadable key or index: the rest keeps running
            log.error("egress detection cannot start (%s)", type(exc).__name__)
            self.coverage.failing("egress", "pipeline", "egress", reason_for_error(exc))
            return None
        return pipeline

    def _start_egress(self) -> None:
        if self.egress is None:
            return
        try:
            self.egress.start()
        except Exception as exc:
            log.exception("egress detection failed to start")
            self.coverage.failing("egress", "pipeline", "egress", reason_for_error(exc))

    def check_in(self) -> bool | None:
        """Ask the collector how it sees this device, and keep the lockdown in step with its answer.

        A device reported lost is locked down (``lockdown.json`` in state_dir/session, read by every
        session component) until the collector says IT found it. Returns whether it is reported
        lost, or None when the collector could not be asked (the lockdown then stays as it was).
        """
        try:
            view = self.client.heartbeat(outbox_depth=0, agent_version=AGENT_VERSION)
        except Exception as exc:  # offline is normal for a laptop: the outbox heartbeat still records the beat
            log.info("check-in: collector not reached (%s)", type(exc).__name__)
            return None
        lost = bool(view.get("reported_lost"))
        state_dir = self.config.state_dir
        try:
            if lost and not read_lockdown(state_dir):
                write_lockdown(state_dir, datetime.now(UTC).isoformat())
                log.warning("the collector reports this device lost: every session is locked until IT releases it")
            elif not lost and read_lockdown(state_dir):
                clear_lockdown(state_dir)
                log.warning("the collector reports this device found: the lockdown is lifted")
            self.coverage.working("lockdown", "state")
        except OSError as exc:
            log.error("check-in: could not change the lockdown: %s", exc)
            self.coverage.failing("lockdown", "state", "lockdown", reason_for_error(exc))
        return lost

    def _heartbeat_loop(self) -> None:
        interval = self.config.heartbeat.interval_s
        self.check_in()  # at once: a lost laptop switched on should lock before anyone uses it
        while not self._stop.wait(interval):
            try:
                self.sink.emit("heartbeat", self.heartbeat_body())
            except Exception:
                log.exception("heartbeat: could not record")
            self.check_in()
