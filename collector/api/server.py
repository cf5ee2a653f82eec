"""Building the collector's gRPC server: mTLS only, size caps, per-call limits, health checking and reflection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as aio_health  # type: ignore[attr-defined]  # the asyncio servicer, untyped
from grpc_reflection.v1alpha import reflection

from caseguard.v1 import collector_pb2, collector_pb2_grpc
from collector.api.aio_host import AioServerHost
from collector.api.guarded import CallLimits, GuardedService
from collector.api.identity import DeviceAuthenticator
from collector.api.servicer import CollectorServicer
from collector.store.base import Store
from collector.store.group_commit import GroupCommitWriter

log = logging.getLogger(__name__)

SERVICE_NAME = collector_pb2.DESCRIPTOR.services_by_name["Collector"].full_name


@dataclass(frozen=True)
class ServerTLS:
    """PEM material for the server side of mutual TLS."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class ServerLimits:
    """Caps that keep one bad client from hurting everyone else.

    ``workers`` threads run servicer methods, and only on whole requests (see
    ``guarded.py``); ``calls`` bounds each call and each device's calls in flight. Connection
    ages bound anything a client holds open: agents reconnect transparently after GOAWAY.
    """

    max_message_bytes: int = 4 * 1024 * 1024
    workers: int = 16
    max_concurrent_rpcs: int = 4096
    calls: CallLimits = field(default_factory=CallLimits)
    max_connection_idle_s: int = 15 * 60
    max_connection_age_s: int = 60 * 60
    max_connection_age_grace_s: int = 120


def channel_options(limits: ServerLimits) -> list[tuple[str, Any]]:
    """Server channel arguments: message caps, keepalive enforcement, connection ages."""
    return [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", limits.max_message_bytes),
        # Two collectors must never silently share one port.
        ("grpc.so_reuseport", 0),
        # Keepalive enforcement: agents may ping every 30 s; a client pinging faster is cut off.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 30_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.max_connection_idle_ms", limits.max_connection_idle_s * 1000),
        ("grpc.max_connection_age_ms", limits.max_connection_age_s * 1000),
        ("grpc.max_connection_age_grace_ms", limits.max_connection_age_grace_s * 1000),
    ]


@dataclass
class RunningServer:
    """A started server and the parts that must be stopped with it."""

    server: AioServerHost
    port: int
    writer: GroupCommitWriter
    health: aio_health.HealthServicer

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting calls, let in-flight ones finish, then flush the writer."""
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.health.enter_graceful_shutdown(), self.server.loop).result(5)
        self.server.stop(grace_s).wait()
        self.writer.stop()


def build_server(
    store: Store,
    listen: str,
    tls: ServerTLS,
    limits: ServerLimits = ServerLimits(),
    servicer: collector_pb2_grpc.CollectorServicer | None = None,
    writer: GroupCommitWriter | None = None,
) -> RunningServer:
    """Bind and start the server on ``listen`` (HOST:PORT; port 0 picks a free one)."""
    writer = writer or GroupCommitWriter(store)
    servicer = servicer or CollectorServicer(store, writer)
    authenticator = DeviceAuthenticator(store)
    pool = futures.ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="caseguard-rpc")
    guarded = GuardedService(
        collector_pb2.DESCRIPTOR.services_by_name["Collector"],
        servicer,
        identify=lambda auth, peer: authenticator.caller_key(auth),
        admit=lambda auth, peer: authenticator.admit(auth),
        pool=pool,
        limits=limits.calls,
    )
    health_servicer = aio_health.HealthServicer()
    creds = grpc.ssl_server_credentials(
        [(tls.key_pem, tls.cert_pem)], root_certificates=tls.ca_pem, require_client_auth=True
    )

    def configure(server: grpc.aio.Server) -> int:
        server.add_generic_rpc_handlers((guarded.handler,))
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
        return int(server.add_secure_port(listen, creds))

    host = AioServerHost(configure, options=channel_options(limits),
                         maximum_concurrent_rpcs=limits.max_concurrent_rpcs, pool=pool)
    try:
        port = host.start()
        for name in ("", SERVICE_NAME):
            asyncio.run_coroutine_threadsafe(
                health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING), host.loop
            ).result(5)
    except (OSError, RuntimeError) as exc:
        pool.shutdown(wait=False)
        writer.stop()
        raise OSError(f"cannot listen on {listen}: {exc}") from exc
    log.info("collector listening on %s (mTLS)", listen)
    return RunningServer(host, port, writer, health_servicer)
