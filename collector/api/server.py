"""Building the collector's gRPC server: mTLS only, size caps, health checking and reflection."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from caseguard.v1 import collector_pb2, collector_pb2_grpc
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
    """Caps that keep one bad client from hurting everyone else."""

    max_message_bytes: int = 4 * 1024 * 1024
    workers: int = 16
    max_concurrent_rpcs: int = 256


@dataclass
class RunningServer:
    """A started server and the parts that must be stopped with it."""

    server: grpc.Server
    port: int
    writer: GroupCommitWriter
    health: health.HealthServicer

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting calls, let in-flight ones finish, then flush the writer."""
        self.health.enter_graceful_shutdown()
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
    options: Sequence[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", limits.max_message_bytes),
        # Two collectors must never silently share one port.
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 30_000),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="caseguard-rpc"),
        options=options,
        maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
    )
    collector_pb2_grpc.add_CollectorServicer_to_server(  # type: ignore[no-untyped-call]  # generated code
        servicer or CollectorServicer(store, writer), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    creds = grpc.ssl_server_credentials(
        [(tls.key_pem, tls.cert_pem)], root_certificates=tls.ca_pem, require_client_auth=True
    )
    port = server.add_secure_port(listen, creds)
    if port == 0:
        writer.stop()
        raise OSError(f"cannot listen on {listen}")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("collector listening on %s (mTLS)", listen)
    return RunningServer(server, port, writer, health_servicer)

