"""Serving a synchronous servicer on the aio server, with nobody able to starve anyone else.

For every call, in this order:
1. the caller is identified cheaply, on the event loop (its certificate's fingerprint, or
   its address), and may have at most ``per_caller`` calls in flight: one laptop cannot
   take the server, and refusing its extra calls costs no thread;
2. it is admitted from its TLS identity alone (a revoked or unknown certificate is refused
   here, before its request has even arrived, so it never holds a worker; a refusal is
   remembered for ``refusal_memory_s``, so a refused client hammering away costs little);
3. its request must arrive within ``receive_timeout_s`` (a stalled upload costs a
   coroutine for that long, never a thread);
4. only then does the servicer method run, on the bounded thread pool, within
   ``call_timeout_s``.

Each method is registered as client-streaming: on the wire that is the same as a unary
call, and it lets the handler run before the request is read, which a unary handler
cannot. Agents' unary stubs are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from collector.api.identity import CallerRefused
from collector.errors import CollectorError

log = logging.getLogger(__name__)

AuthContext = Mapping[str, Iterable[bytes]]
# Who a call is from, cheaply and without I/O: the key its limits are counted under.
Identify = Callable[[AuthContext, str], str]
# Whether that caller may be served (may block on the store); raises CallerRefused if not.
Admit = Callable[[AuthContext, str], None]


@dataclass(frozen=True)
class CallLimits:
    """Per-call bounds (seconds) and the cap on one caller's calls in flight."""

    receive_timeout_s: float = 10.0
    call_timeout_s: float = 60.0
    per_caller: int = 8
    refusal_memory_s: float = 30.0


class _Aborted(CollectorError):
    """A synchronous servicer's ``context.abort``, carried to the event loop that ends the call."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class SyncContext:
    """What a synchronous servicer method may use of its call: identity, peer, metadata, abort."""

    def __init__(self, auth: AuthContext, peer: str, metadata: Sequence[tuple[str, Any]]) -> None:
        self._auth = auth
        self._peer = peer
        self._metadata = metadata
        self.trailing_metadata: tuple[tuple[str, str], ...] = ()

    def auth_context(self) -> AuthContext:
        """The TLS peer's properties (``x509_pem_cert`` and the like)."""
        return self._auth

    def peer(self) -> str:
        """The caller's address, as gRPC writes it (``ipv4:127.0.0.1:5555``)."""
        return self._peer

    def invocation_metadata(self) -> Sequence[tuple[str, Any]]:
        """The call's metadata."""
        return self._metadata

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        """Metadata sent with the call's status (``retry-after`` on a throttled call, say)."""
        self.trailing_metadata = tuple(metadata)

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with ``code``; raises, like ``grpc.ServicerContext.abort``."""
        raise _Aborted(code, details)


def peer_address(peer: str) -> str:
    """The host part of a gRPC peer string (``ipv6:[::1]:5555`` -> ``[::1]``)."""
    body = peer.split(":", 1)[1] if ":" in peer else peer
    return body.rsplit(":", 1)[0] if body.count(":") else body


class GuardedService:
    """A generic handler serving ``servicer``'s methods of ``service`` under ``CallLimits``."""

    def __init__(
        self,
        service: ServiceDescriptor,
        servicer: object,
        *,
        identify: Identify,
        admit: Admit,
        pool: Executor,
        limits: CallLimits = CallLimits(),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servicer = servicer
        self._identify = identify
        self._admit = admit
        self._pool = pool
        self._limits = limits
        self._monotonic = monotonic
        # Touched on the event loop only.
        self._in_flight: dict[str, int] = {}
        self._refused: dict[str, tuple[float, CallerRefused]] = {}
        # Requests arrive as bytes and are decoded in the handler, so that an undecodable one
        # gets INVALID_ARGUMENT rather than the framework's bare UNKNOWN.
        handlers = {
            method.name: grpc.stream_unary_rpc_method_handler(
                self._handler(method.name, message_factory.GetMessageClass(method.input_type)),
                response_serializer=lambda msg: msg.SerializeToString(),
            )
            for method in service.methods
        }
        self.handler = grpc.method_handlers_generic_handler(service.full_name, handlers)

    def _handler(self, name: str, request_type: Any) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]:
        method = getattr(self._servicer, name)

        async def handle(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            loop = asyncio.get_running_loop()
            auth: AuthContext = context.auth_context()
            peer = context.peer()
            key = self._identify(auth, peer)
            if self._in_flight.get(key, 0) >= self._limits.per_caller:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"too many calls in flight from this caller (at most {self._limits.per_caller})")
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            try:
                await self._check(loop, key, auth, peer, context)
                return await self._serve(loop, method, request_type, requests, context, auth, peer)
            finally:
                left = self._in_flight[key] - 1
                if left:
                    self._in_flight[key] = left
                else:
                    del self._in_flight[key]

        return handle

    async def _check(self, loop: asyncio.AbstractEventLoop, key: str, auth: AuthContext, peer: str,
                     context: grpc.aio.ServicerContext[Any, Any]) -> None:
        now = self._monotonic()
        remembered = self._refused.get(key)
        if remembered is not None and remembered[0] > now:
            await context.abort(remembered[1].code, remembered[1].message)
        try:
            await loop.run_in_executor(self._pool, self._admit, auth, peer)
        except CallerRefused as refused:
            if len(self._refused) > 10_000:
                self._refused = {k: v for k, v in self._refused.items() if v[0] > now}
            self._refused[key] = (now + self._limits.refusal_memory_s, refused)
            await context.abort(refused.code, refused.message)
        self._refused.pop(key, None)

    async def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        method: Callable[[Any, SyncContext], Any],
        request_type: Any,
        requests: Any,
        context: grpc.aio.ServicerContext[Any, Any],
        auth: AuthContext,
        peer: str,
    ) -> Any:
        limits = self._limits
        try:
            raw = await asyncio.wait_for(anext(requests, None), limits.receive_timeout_s)
        except TimeoutError:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                f"the request did not arrive within {limits.receive_timeout_s:g} s")
        if raw is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no request message")
        try:
            request = request_type.FromString(raw)
        except DecodeError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"the request is not a valid {request_type.DESCRIPTOR.full_name}")
        sync_context = SyncContext(auth, peer, tuple(context.invocation_metadata() or ()))
        work = loop.run_in_executor(self._pool, method, request, sync_context)
        try:
            return await asyncio.wait_for(work, limits.call_timeout_s)
        except _Aborted as aborted:
            await context.abort(aborted.code, aborted.details, sync_context.trailing_metadata)
        except TimeoutError:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                f"the collector did not finish within {limits.call_timeout_s:g} s; retry")
