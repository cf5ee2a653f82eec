"""The ops listener: /healthz, /readyz and /metrics over plain HTTP, with no client certificate.

Kubernetes probes and Prometheus cannot hold a device certificate, so the gRPC health
service (behind mTLS) tells them nothing. This listener answers them; it serves no data
about anyone, only counts. Bind it to a management network or loopback.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.ops.metrics import CollectorMetrics, StoreCollector, StoreFigures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """Readiness limits: how long the workflow may go without a good round, and a notice fail undelivered."""

    workflow_stale_s: float = 300.0
    notice_stuck_s: float = 1800.0


class ReadinessCheck:
    """What /readyz reports: the database reachable, the workflow progressing, notices not stuck."""

    def __init__(
        self,
        read: Callable[[], StoreFigures],
        workflow_progressed_within: Callable[[float], bool],
        limits: Readiness = Readiness(),
    ) -> None:
        self._read = read
        self._progressed = workflow_progressed_within
        self._limits = limits

    def problems(self) -> list[str]:
        """Why the collector is not ready (empty: ready)."""
        problems: list[str] = []
        try:
            figures = self._read()
        except Exception as exc:
            return [f"database unreachable: {exc}"]
        if not self._progressed(self._limits.workflow_stale_s):
            problems.append(f"workflow runner has not completed a round in {self._limits.workflow_stale_s:g} s")
        age = figures.oldest_undelivered_age_s
        if figures.notices_failing and age is not None and age > self._limits.notice_stuck_s:
            problems.append(f"{figures.notices_failing} notice(s) failing, the oldest undelivered for {age:.0f} s")
        return problems


class OpsServer:
    """A small threaded HTTP server for probes and scrapes, on its own thread."""

    def __init__(self, host: str, port: int, metrics: CollectorMetrics, readiness: ReadinessCheck,
                 store_figures: Callable[[], StoreFigures]) -> None:
        metrics.registry.register(StoreCollector(store_figures))
        handler = _handler(metrics, readiness)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="caseguard-ops", daemon=True)

    def start(self) -> None:
        """Start serving."""
        self._thread.start()
        log.info("ops listener on port %d (/healthz, /readyz, /metrics)", self.port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()


def _handler(metrics: CollectorMetrics, readiness: ReadinessCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "caseguard-ops"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._reply(200, "application/json", {"status": "alive"})
            elif path == "/readyz":
                problems = readiness.problems()
                self._reply(503 if problems else 200, "application/json",
                            {"status": "not ready" if problems else "ready", "problems": problems})
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            else:
                self._reply(404, "application/json", {"error": "not found"})

        def _reply(self, status: int, content_type: str, body: dict[str, Any]) -> None:
            self._send(status, content_type, json.dumps(body).encode("utf-8"))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # probes every few seconds would flood the log

    return Handler
