"""`caseguard-agent enroll`: make the device key here, get a certificate, keep nothing secret in transit.

1. Fetch the collector's CA from its enrolment port and accept it only if its SHA-256 matches
   the fingerprint IT gave (--ca-fingerprint SHA256:...).
2. Make a key on this laptop (it never leaves), send a certificate request with the token id
   and an HMAC proof of the token secret bound to that request.
3. Check the certificate chains to the pinned CA and is for our key, then write ca.pem,
   the certificate and the key (0600) where agent.toml says.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.atomic_files import write_atomically
from agent.config import AgentConfig
from agent.errors import AgentError
from caseguard.enrollment_proof import parse_token, proof, secret_hash
from caseguard.v1 import enrollment_pb2, enrollment_pb2_grpc


class EnrollmentError(AgentError, RuntimeError):
    """Enrolment did not happen; the message says why, for the person running it."""


@dataclass(frozen=True)
class KeyAndRequest:
    """A new private key (PEM) and a certificate request for it (DER)."""

    key_pem: bytes
    csr_der: bytes
    public_der: bytes


def new_key_and_request(label: str) -> KeyAndRequest:
    """An EC P-256 key and a CSR for it (the collector chooses the certificate's name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label[:64] or "caseguard-device")]))
        .sign(key, hashes.SHA256())
    )
    return KeyAndRequest(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        csr.public_bytes(serialization.Encoding.DER),
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def check_issued(cert_pem: bytes, ca_pem: bytes, public_der: bytes) -> x509.Certificate:
    """The issued certificate, if it is for our key and signed by the CA; else EnrollmentError."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        ca = x509.load_pem_x509_certificate(ca_pem)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError) as exc:
        raise EnrollmentError(f"the collector returned a certificate that does not check out: {exc}") from exc
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if theirs != public_der:
        raise EnrollmentError("the collector returned a certificate for a different key")
    return cert


def normalise_fingerprint(text: str) -> str:
    """'SHA256:AB:CD...' / 'sha256:abcd...' -> 'abcd...'."""
    value = text.strip()
    if value.lower().startswith("sha256:"):
        value = value[7:]
    return value.replace(":", "").lower()


def enroll(config: AgentConfig, address: str, token_text: str, ca_fingerprint: str, label: str = "") -> str:
    """Enrol this laptop; returns the device name the collector assigned."""
    try:
        token_id, secret = parse_token(token_text)
    except ValueError as exc:
        raise EnrollmentError(str(exc)) from exc
    label = label or socket.gethostname()
    channel = grpc.insecure_channel(address)
    stub = enrollment_pb2_grpc.EnrollmentStub(channel)  # type: ignore[no-untyped-call]
    try:
        ca_pem: bytes = stub.GetCA(enrollment_pb2.GetCARequest(), timeout=15).ca_pem
        got = hashlib.sha256(x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER))
        if got.hexdigest() != normalise_fingerprint(ca_fingerprint):
            raise EnrollmentError(
                f"the collector's CA is SHA256:{got.hexdigest()}, not the fingerprint you were given: not enrolling"
            )
        request = new_key_and_request(label)
        reply = stub.Enroll(
            enrollment_pb2.EnrollRequest(
                token_id=token_id,
                csr_der=request.csr_der,
                proof=proof(secret_hash(secret), request.csr_der),
                label=label,
            ),
            timeout=30,
        )
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = exc.details() if hasattr(exc, "details") else str(exc)
        if code == grpc.StatusCode.UNAVAILABLE:
            raise EnrollmentError(f"cannot reach the collector's enrolment port at {address}") from exc
        raise EnrollmentError(details or str(code)) from exc
    finally:
        channel.close()
    check_issued(reply.certificate_pem, ca_pem, request.public_der)
    c = config.collector
    write_atomically(c.key, request.key_pem, 0o600)
    write_atomically(c.cert, reply.certificate_pem, 0o644)
    write_atomically(c.ca, ca_pem, 0o644)
    return str(reply.device_name)
