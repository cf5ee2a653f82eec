"""Certificate and signature checks in a short-lived child process.

The long-running agent never imports ``cryptography``: loading it costs about 13 MB of resident
memory for the life of the process (its Rust extension and the x509 modules), for work done a
few times a day (read the device certificate's name and expiry, check a central policy's
signature). That work runs in ``python -m agent.crypto_child`` instead: one JSON request on
stdin, one JSON answer on stdout, hex for bytes. The same functions run in-process for the
short-lived commands (``enroll``, ``ping``), where start-up time matters more than memory.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from agent.errors import AgentError
from agent.transport.credentials import CertFacts, cert_facts

CHILD_TIMEOUT_S = 60.0
log = logging.getLogger(__name__)


class ChildFailed(AgentError, RuntimeError):
    """The child process could not do the work (it crashed, timed out or said something odd)."""


def cert_facts_in_child(cert_pem: bytes) -> CertFacts:
    """:func:`cert_facts`, in a child process (in-process, with a warning, if no child can run)."""
    try:
        answer = run_in_child("cert_facts", cert_pem=cert_pem)
    except ChildFailed as exc:
        log.warning("crypto child unavailable (%s); reading the certificate in-process", exc)
        return cert_facts(cert_pem)
    if "error" in answer:
        raise ValueError(str(answer["error"]))
    return CertFacts(answer.get("common_name"), datetime.fromtimestamp(float(answer["not_after"]), UTC))


def verify_policy_in_child(body: bytes, signature: bytes, signer_pem: bytes, ca_pem: bytes) -> dict[str, Any]:
    """agent.policy.verify.verify_policy, in a child process (raises PolicyRejected the same way)."""
    from agent.policy.verify import PolicyRejected

    try:
        answer = run_in_child("verify_policy", body=body, signature=signature, signer_pem=signer_pem, ca_pem=ca_pem)
    except ChildFailed as exc:
        from agent.policy.verify import verify_policy

        log.warning("crypto child unavailable (%s); checking the policy in-process", exc)
        return verify_policy(body, signature, signer_pem, ca_pem)
    if "rejected" in answer:
        raise PolicyRejected(str(answer["rejected"]))
    policy = answer.get("policy")
    if not isinstance(policy, dict):
        raise PolicyRejected("the policy could not be checked")
    return policy


def run_in_child(op: str, **args: bytes) -> dict[str, Any]:
    """Run ``op`` in ``python -m agent.crypto_child``; its JSON answer."""
    request = json.dumps({"op": op, **{k: v.hex() for k, v in args.items()}})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "agent.crypto_child"],
            input=request,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChildFailed(type(exc).__name__) from exc
    if proc.returncode != 0:
        raise ChildFailed(f"exit status {proc.returncode}")
    try:
        answer = json.loads(proc.stdout)
    except ValueError as exc:
        raise ChildFailed("no answer") from exc
    if not isinstance(answer, dict):
        raise ChildFailed("no answer")
    return answer


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    args = {k: bytes.fromhex(v) for k, v in request.items() if k != "op"}
    if request.get("op") == "cert_facts":
        try:
            facts = cert_facts(args["cert_pem"])
        except ValueError as exc:
            return {"error": str(exc) or "not a PEM certificate"}
        return {"common_name": facts.common_name, "not_after": facts.not_after.timestamp()}
    if request.get("op") == "verify_policy":
        from agent.policy.verify import PolicyRejected, verify_policy

        try:
            return {"policy": verify_policy(args["body"], args["signature"], args["signer_pem"], args["ca_pem"])}
        except PolicyRejected as exc:
            return {"rejected": str(exc)}
    return {"error": f"unknown op {request.get('op')!r}"}


def main() -> int:
    """The child: one request on stdin, one answer on stdout."""
    request = json.loads(sys.stdin.read())
    print(json.dumps(_answer(request)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
