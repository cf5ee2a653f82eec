"""Who is calling: the device named by the client certificate, never by the payload."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import grpc

from collector.errors import CollectorError
from collector.pki import fingerprint_of_pem
from collector.store.base import Device, Store


class CallerRefused(CollectorError):
    """The caller may not use the service; carries the status to return."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DeviceAuthenticator:
    """Maps the TLS peer certificate to an enrolled, unrevoked device."""

    def __init__(self, store: Store, cache_size: int = 10_000) -> None:
        self._store = store
        self._fingerprints: OrderedDict[bytes, str] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def authenticate(self, context: grpc.ServicerContext) -> Device:
        """The calling device; raises CallerRefused for anything else."""
        return self.authenticate_auth(context.auth_context())  # type: ignore[arg-type]  # stubs say bytes; gRPC gives lists

    def caller_key(self, auth: Mapping[str, Iterable[bytes]]) -> str:
        """Who is calling, without touching the store: the certificate's fingerprint ("" without one)."""
        pems = list(auth.get("x509_pem_cert", []))
        return self._fingerprint(pems[0]) if pems else ""

    def admit(self, auth: Mapping[str, Iterable[bytes]]) -> None:
        """Raise CallerRefused unless the certificate belongs to an enrolled, unrevoked device."""
        self.authenticate_auth(auth)

    def authenticate_auth(self, auth: Mapping[str, Iterable[bytes]]) -> Device:
        """The device a call's TLS properties name; raises CallerRefused for anything else."""
        pems: list[bytes] = list(auth.get("x509_pem_cert", []))
        if not pems:
            raise CallerRefused(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
        fingerprint = self._fingerprint(pems[0])
        device = self._store.device_for_certificate(fingerprint)
        if device is None:
            raise CallerRefused(grpc.StatusCode.PERMISSION_DENIED, "certificate is not registered to any device")
        if device.revoked_at_us is not None:
            raise CallerRefused(grpc.StatusCode.PERMISSION_DENIED, f"device {device.name} has been revoked")
        return device

    def _fingerprint(self, pem: bytes) -> str:
        # Parsing a certificate costs far more than a dict lookup; agents reuse theirs.
        with self._lock:
            fp = self._fingerprints.get(pem)
            if fp is not None:
                self._fingerprints.move_to_end(pem)
                return fp
        fp = fingerprint_of_pem(pem)
        with self._lock:
            self._fingerprints[pem] = fp
            if len(self._fingerprints) > self._size:
                self._fingerprints.popitem(last=False)
        return fp
