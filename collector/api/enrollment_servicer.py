"""The Enrollment service: a laptop with a token gets its identity (see enrollment.proto)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NoReturn

import grpc

from caseguard.v1 import enrollment_pb2, enrollment_pb2_grpc
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


def build_enrollment_server(listen: str, servicer: EnrollmentServicer, workers: int = 4) -> tuple[grpc.Server, int]:
    """The enrolment listener: no client certificates (laptops have none yet); nothing secret crosses it."""
    from concurrent import futures

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="caseguard-enrol"),
        options=[("grpc.max_receive_message_length", 64 * 1024), ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=32,
    )
    enrollment_pb2_grpc.add_EnrollmentServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    server.start()
    return server, port
