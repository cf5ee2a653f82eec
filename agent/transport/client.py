"""A thin gRPC client for the Collector service over mutual TLS, with address failover."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc

from agent.errors import AgentError
from agent.transport import codec
from agent.transport.credentials import DeviceCredentials

log = logging.getLogger(__name__)

_SERVICE = "/caseguard.v1.Collector/"


# Trailing metadata on a call the collector throttled: whole seconds until routine events may follow.
RETRY_AFTER_KEY = "caseguard-retry-after-s"
MAX_RETRY_AFTER_S = 6 * 3600.0  # whatever a collector says, try again within this


class DeliveryError(AgentError):
    """A call failed with a gRPC status; ``code`` (and ``retry_after_s``, when set) drive the retry rules.

    ``retry_after_s`` is set when the collector throttled this device (it is over a rate or
    storage limit): routine events wait that long, breach-class events may still be sent.
    """

    def __init__(self, code: grpc.StatusCode, details: str, address: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{code.name}: {details} ({address})")
        self.code = code
        self.details = details
        self.address = address
        self.retry_after_s = retry_after_s


def retry_after(trailing: Any) -> float | None:
    """The collector's retry-after from a call's trailing metadata, bounded; None if absent or unreadable."""
    for key, value in trailing or ():
        if key == RETRY_AFTER_KEY:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return min(max(seconds, 1.0), MAX_RETRY_AFTER_S) if seconds == seconds else None
    return None


def _identity(b: bytes) -> bytes:
    return b


def _channel_credentials(credentials: DeviceCredentials) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=credentials.ca_pem,
        private_key=credentials.key_pem,
        certificate_chain=credentials.cert_pem,
    )


class CollectorClient:
    """Calls SendEvents / Heartbeat / ReportLostDevice; switches address after a transport failure."""

    def __init__(
        self,
        addresses: Sequence[str],
        credentials: DeviceCredentials,
        *,
        server_name: str = "",
        timeout_s: float = 10.0,
        max_message_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        if not addresses:
            raise ValueError("at least one collector address is needed")
        self._addresses = list(addresses)
        self._creds = _channel_credentials(credentials)
        self._options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.keepalive_time_ms", 60_000),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ]
        if server_name:
            self._options.append(("grpc.ssl_target_name_override", server_name))
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._index = 0
        self._channel: grpc.Channel | None = None
        self._closed = False
        self.device_id = credentials.device_id

    @property
    def address(self) -> str:
        """The address currently in use."""
        return self._addresses[self._index]

    def send_events(self, payloads: Sequence[bytes]) -> tuple[list[str], dict[str, str]]:
        """Deliver serialised events; returns (acknowledged ids, {rejected id: reason})."""
        reply = self._call("SendEvents", codec.encode_send_events(payloads))
        return codec.decode_send_events_response(reply)

    def heartbeat(self, outbox_depth: int, agent_version: str) -> dict[str, Any]:
        """Liveness check; returns the collector's view of this device."""
        req = codec.encode_heartbeat_request(outbox_depth, agent_version, datetime.now(UTC))
        return codec.decode_heartbeat_response(self._call("Heartbeat", req))

    def report_lost_device(self, report: Mapping[str, Any]) -> tuple[str, str]:
        """Report another device lost or stolen; returns (reference, what happens next)."""
        return codec.decode_lost_device_response(
            self._call("ReportLostDevice", codec.encode_lost_device_request(report))
        )

    def retire(self, reason: str) -> str:
        """Ask the collector to revoke this identity (the laptop re-enrolled); returns its name."""
        return codec.decode_retire_response(self._call("RetireDevice", codec.encode_retire_request(reason)))

    def renew_certificate(self, csr_der: bytes) -> bytes:
        """A new certificate (PEM) for the key in ``csr_der``, signed by the collector's CA."""
        return codec.decode_renew_response(self._call("RenewCertificate", codec.encode_renew_request(csr_der)))

    def get_policy(self, have_version: int) -> codec.SignedPolicyWire | None:
        """The central policy if newer than ``have_version``; None when ours is current."""
        return codec.decode_policy_response(self._call("GetPolicy", codec.encode_policy_request(have_version)))

    def reload_credentials(self, credentials: DeviceCredentials) -> None:
        """Use a renewed certificate from now on (the next call opens a new channel)."""
        with self._lock:
            self._creds = _channel_credentials(credentials)
            self.device_id = credentials.device_id
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def close(self) -> None:
        """Close the channel; cancels any call in flight (used for prompt shutdown)."""
        with self._lock:
            self._closed = True
            if self._channel is not None:
                self._channel.close()
                self._channel = None

    def _call(self, method: str, request: bytes) -> bytes:
        with self._lock:
            if self._closed:
                raise DeliveryError(grpc.StatusCode.CANCELLED, "client closed", self.address)
            if self._channel is None:
                self._channel = grpc.secure_channel(self.address, self._creds, options=self._options)
            channel, address = self._channel, self.address
        call = channel.unary_unary(_SERVICE + method, request_serializer=_identity, response_deserializer=_identity)
        try:
            reply: bytes = call(request, timeout=self._timeout, wait_for_ready=False)
            return reply
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            details = exc.details() if hasattr(exc, "details") else str(exc)
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                self._fail_over(channel)
            trailing = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
            wait = retry_after(trailing) if code is grpc.StatusCode.RESOURCE_EXHAUSTED else None
            raise DeliveryError(code, details or "", address, wait) from exc

    def _fail_over(self, failed: grpc.Channel) -> None:
        with self._lock:
            if self._channel is not failed or len(self._addresses) == 1:
                return
            self._channel.close()
            self._channel = None
            self._index = (self._index + 1) % len(self._addresses)
            log.warning("collector unreachable; failing over to address #%d", self._index + 1)
