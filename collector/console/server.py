"""Running the console inside the collector's process: uvicorn on its own thread, over TLS.

The console is served over HTTPS with the collector's own server certificate (from
``pki init``) unless IT gives another certificate and key; browsers must then trust the
Caseguard CA, or use the organisation's certificate. ``plain_http`` is for a TLS-terminating
reverse proxy on the same host and is only allowed on a loopback address.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from collector.console.app import build_app, build_deps
from collector.console.context import ConsoleDeps, ConsoleSettings
from collector.domain.ico_prefill import OrgProfile
from collector.errors import UsageError
from collector.store.base import Store
from collector.store.console_base import ConsoleStore, open_console_store
from collector.store.group_commit import GroupCommitWriter
from collector.workflow.service import WorkflowService

log = logging.getLogger(__name__)


class ConsoleConfigError(UsageError, ValueError):
    """The console cannot be served as asked (address, certificate)."""


@dataclass(frozen=True)
class ConsoleListen:
    """Where and how to serve the console."""

    host: str
    port: int
    cert: Path | None = None
    key: Path | None = None
    plain_http: bool = False

    @property
    def scheme(self) -> str:
        """``https`` unless serving plain HTTP to a local proxy."""
        return "http" if self.plain_http else "https"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConsoleConfigError(f"--console {text!r}: give HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def check_listen(listen: ConsoleListen) -> None:
    """Refuse plain HTTP anywhere but loopback, and TLS without both files."""
    if listen.plain_http:
        try:
            loopback = ipaddress.ip_address(listen.host).is_loopback
        except ValueError:
            loopback = listen.host == "localhost"
        if not loopback:
            raise ConsoleConfigError("plain HTTP is only allowed on a loopback address (behind a TLS proxy)")
        return
    for path in (listen.cert, listen.key):
        if path is None or not path.is_file():
            raise ConsoleConfigError(f"console TLS file missing: {path}")


class ConsoleServer:
    """The console's HTTP server on a daemon thread; ``start`` returns once it listens."""

    def __init__(self, deps: ConsoleDeps, listen: ConsoleListen) -> None:
        check_listen(listen)
        self.listen = listen
        config = uvicorn.Config(
            build_app(deps),
            host=listen.host,
            port=listen.port,
            ssl_certfile=None if listen.plain_http else str(listen.cert),
            ssl_keyfile=None if listen.plain_http else str(listen.key),
            log_config=None,  # the collector's logging; no access log (it would record addresses)
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=3,  # requests in flight get 3 s; idle connections are closed
            limit_concurrency=200,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="console", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn's way of saying it could not bind; start() reports it
            log.debug("console server thread ended at start-up")

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; raise ``ConsoleConfigError`` if it cannot listen."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ConsoleConfigError(f"the console cannot listen on {self.listen.host}:{self.listen.port}")
            if time.monotonic() > deadline:
                raise ConsoleConfigError("the console did not start in time")
            time.sleep(0.02)
        log.info("console serving %s on %s:%s", self.listen.scheme, self.listen.host, self.listen.port)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        servers = getattr(self._server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.listen.port

    def stop(self) -> None:
        """Stop accepting, finish requests in flight, and join the thread."""
        self._server.should_exit = True
        self._thread.join(10)


class RunningConsole:
    """The console server and the store it opened; ``stop`` ends both."""

    def __init__(self, server: ConsoleServer, store: ConsoleStore) -> None:
        self.server = server
        self._store = store

    @property
    def url(self) -> str:
        """Where people open the console."""
        listen = self.server.listen
        host = f"[{listen.host}]" if ":" in listen.host else listen.host
        return f"{listen.scheme}://{host}:{self.server.port}/"

    def stop(self) -> None:
        """Stop serving and close the console's store."""
        self.server.stop()
        self._store.close()


def start_console(
    address: str,
    *,
    data_dir: Path,
    database_url: str | None,
    cert: Path | None,
    key: Path | None,
    plain_http: bool,
    events: Store,
    workflow: WorkflowService,
    writer: GroupCommitWriter | None,
    org: OrgProfile,
    on_sign_in_failed: Callable[[], None] = lambda: None,
    on_throttled: Callable[[], None] = lambda: None,
) -> RunningConsole:
    """Serve the console at ``address`` over the collector's stores; returns once it listens."""
    host, port = parse_listen(address)
    listen = ConsoleListen(host, port, cert, key, plain_http)
    check_listen(listen)
    store = open_console_store(data_dir, database_url)
    settings = ConsoleSettings(organisation=org.organisation_name, forwarded_for=plain_http)
    deps = build_deps(
        events, workflow, store, writer, org=org, settings=settings,
        on_sign_in_failed=on_sign_in_failed, on_throttled=on_throttled,
    )  # fmt: skip
    deps.sessions.expire_old()
    try:
        server = ConsoleServer(deps, listen)
        server.start()
    except BaseException:
        store.close()
        raise
    return RunningConsole(server, store)
