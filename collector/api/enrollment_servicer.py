"""The Enrollment service: a laptop with a token gets its identity (see enrollment.proto)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent import futures
from typing import NoReturn

import grpc

from caseguard.v1 import enrollment_pb2, enrollment_pb2_grpc
from collector.api.aio_host import AioServerHost
from collector.api.guarded import AuthContext, CallLimits, GuardedService, peer_address
from collector.api.identity import CallerRefused
from collector.api.limits import SlidingWindowLimit
from collector.enrollment import tokens
from collector.enrollment.certificates import device_name_for, issue_from_csr
from collector.pki import PkiError, PkiPaths
from collector.store.base import StoreError
from collector.store.enrollment_base import EnrollmentStore
from collector.wire import codec

log = logging.getLogger(__name__)


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServicer):
    """GetCA and Enroll."""

    def __init__(
        self,
        paths: PkiPaths,
        store: EnrollmentStore,
        *,
        clock_us: Callable[[], int] = lambda: time.time_ns() // 1000,
    ) -> None:
        self._paths = paths
        self._store = store
        self._clock_us = clock_us

    def GetCA(
        self, request: enrollment_pb2.GetCARequest, context: grpc.ServicerContext
    ) -> enrollment_pb2.GetCAResponse:
        """The CA certificate; the agent checks it against the fingerprint IT gave it."""
        return enrollment_pb2.GetCAResponse(ca_pem=self._paths.ca_cert.read_bytes())

    def Enroll(
        self, request: enrollment_pb2.EnrollRequest, context: grpc.ServicerContext
    ) -> enrollment_pb2.EnrollResponse:
        """Check the token proof, issue a certificate for the laptop's key, register the device."""
        now = self._clock_us()
        try:
            record = self._store.get_token(request.token_id)
            tokens.check(record, request.proof, request.csr_der, now)
            name = device_name_for(request.label)
            issued = issue_from_csr(self._paths, request.csr_der, name)
            if not self._store.enroll_device(request.token_id, name, issued.fingerprint, now):
                _abort(context, grpc.StatusCode.PERMISSION_DENIED,
                       "the enrolment token has already been used: ask IT for a new one")
        except tokens.TokenError as exc:
            log.warning("enrolment refused: %s", exc)
            _abort(context, grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except PkiError as exc:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except StoreError as exc:
            _abort(context, grpc.StatusCode.UNAVAILABLE, f"storage unavailable, retry later: {exc}")
        log.info("enrolled device %s", name)
        return codec.enroll_response(name, issued.cert_pem, issued.not_after)


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")


# Enrolment is anonymous: limit each address. Generous, because a whole office can sit behind
# one NAT address while IT enrols a batch of laptops.
ENROL_CALLS_PER_MINUTE = 120
# In flight per address: room for a batch of laptops enrolling behind one NAT address at once.
ENROL_LIMITS = CallLimits(receive_timeout_s=5.0, call_timeout_s=30.0, per_caller=32)


def build_enrollment_server(
    listen: str, servicer: EnrollmentServicer, workers: int = 4
) -> tuple[AioServerHost, int]:
    """The enrolment listener: no client certificates (laptops have none yet); nothing secret crosses it.

    Like the event port, it runs on an aio server, so stalled anonymous calls hold no
    worker; each address may have a few calls in flight and a bounded rate of them.
    """
    pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="caseguard-enrol")
    rate = SlidingWindowLimit(ENROL_CALLS_PER_MINUTE, 60 * 1_000_000)

    def admit(auth: AuthContext, peer: str) -> None:
        if not rate.allow(peer_address(peer), time.time_ns() // 1000):
            raise CallerRefused(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                "too many enrolment calls from this address; wait a minute")

    guarded = GuardedService(
        enrollment_pb2.DESCRIPTOR.services_by_name["Enrollment"],
        servicer,
        identify=lambda auth, peer: peer_address(peer),
        admit=admit,
        pool=pool,
        limits=ENROL_LIMITS,
    )

    def configure(server: grpc.aio.Server) -> int:
        server.add_generic_rpc_handlers((guarded.handler,))
        return int(server.add_insecure_port(listen))

    host = AioServerHost(
        configure,
        options=[("grpc.max_receive_message_length", 64 * 1024), ("grpc.so_reuseport", 0),
                 ("grpc.max_connection_age_ms", 5 * 60_000), ("grpc.max_connection_age_grace_ms", 30_000)],
        maximum_concurrent_rpcs=256,
        name="caseguard-enrol",
        pool=pool,
    )
    try:
        port = host.start()
    except (OSError, RuntimeError) as exc:
        pool.shutdown(wait=False)
        raise OSError(f"cannot listen on {listen}: {exc}") from exc
    return host, port
