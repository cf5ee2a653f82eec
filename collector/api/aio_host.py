"""Running a grpc.aio server from synchronous code: its own event loop on its own thread.

Why asyncio at all: the synchronous server hands each call to a worker thread *before* the
request has arrived, so a client that opens calls and never finishes them holds every
worker, and every other laptop waits. An aio server holds only a coroutine while a request
is in flight; the synchronous servicers still run on a bounded thread pool, but only once
there is a whole request to run them on (see ``guarded.py``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import Any

import grpc

log = logging.getLogger(__name__)

Configure = Callable[[grpc.aio.Server], int]


class AioServerHost:
    """An aio server on a private event loop; ``stop`` returns a ``threading.Event`` like ``grpc.Server.stop``.

    ``pool``, the threads its handlers run servicer methods on, is shut down with it.
    """

    def __init__(
        self,
        configure: Configure,
        *,
        options: Sequence[tuple[str, Any]] = (),
        maximum_concurrent_rpcs: int | None = None,
        name: str = "caseguard-grpc",
        pool: Executor | None = None,
    ) -> None:
        self._configure = configure
        self._pool = pool
        self._options = list(options)
        self._max_rpcs = maximum_concurrent_rpcs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server runs on (handlers schedule their work here)."""
        return self._loop

    def start(self) -> int:
        """Build, bind and start the server; the bound port. Raises OSError if it cannot bind."""
        self._thread.start()
        try:
            self.port = self._call(self._start())
        except BaseException:
            self._shutdown_loop()
            raise
        return self.port

    def stop(self, grace_s: float | None = None) -> threading.Event:
        """Stop accepting calls, give in-flight ones ``grace_s``; the event is set once stopped."""
        done = threading.Event()
        if self._server is None or not self._thread.is_alive():
            done.set()
            return done
        server = self._server

        async def _stop() -> None:
            await server.stop(grace_s)

        future: Future[None] = asyncio.run_coroutine_threadsafe(_stop(), self._loop)

        def _finish() -> None:
            try:
                future.result(timeout=(grace_s or 0) + 30)
            except Exception:
                log.exception("gRPC server did not stop cleanly")
            self._shutdown_loop()
            done.set()

        threading.Thread(target=_finish, name="caseguard-grpc-stop", daemon=True).start()
        return done

    async def _start(self) -> int:
        server = grpc.aio.server(options=self._options, maximum_concurrent_rpcs=self._max_rpcs)
        port = self._configure(server)
        if port == 0:
            raise OSError("cannot bind the listening address")
        await server.start()
        self._server = server
        return port

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def _shutdown_loop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()
