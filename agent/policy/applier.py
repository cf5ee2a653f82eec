"""Fetching, verifying, keeping and applying the central policy while the agent runs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from agent.atomic_files import write_atomically
from agent.config import AgentConfig, ConfigError
from agent.events import EventSink
from agent.policy.merge import Merged, merge_policy
from agent.policy.verify import PolicyRejected, verify_policy
from agent.transport.client import DeliveryError

if TYPE_CHECKING:
    from agent.transport.codec import SignedPolicyWire

log = logging.getLogger(__name__)

POLICY_FILE = "policy.json"  # the signed policy as received (re-verified at every start)


@dataclass(frozen=True)
class AppliedPolicy:
    """The policy version in force and the configuration it produced."""

    version: int
    merged: Merged


Verifier = Callable[[bytes, bytes, bytes, bytes], dict[str, Any]]
"""(body, signature, signer_pem, ca_pem) -> the policy; raises PolicyRejected. The running agent
passes agent.crypto_child.verify_policy_in_child, so cryptography stays out of its process."""


def load_cached(config: AgentConfig, verify: Verifier = verify_policy) -> AppliedPolicy | None:
    """The last policy this agent accepted, verified again; None if there is none (or it no longer verifies)."""
    path = config.state_dir / POLICY_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        policy = verify(
            bytes.fromhex(saved["body"]),
            bytes.fromhex(saved["signature"]),
            bytes.fromhex(saved["signer_pem"]),
            config.collector.ca.read_bytes(),
        )
        return AppliedPolicy(int(saved["version"]), merge_policy(config, policy))
    except (OSError, ValueError, KeyError, PolicyRejected) as exc:
        log.error("the cached central policy cannot be used (%s); running with local settings", exc)
        return None


class PolicySource(Protocol):
    """What the applier needs from a transport (CollectorClient in production)."""

    def get_policy(self, have_version: int) -> SignedPolicyWire | None: ...


class PolicyApplier(threading.Thread):
    """Asks the collector for newer policy, verifies it, keeps it and hands the new config to ``apply``."""

    def __init__(
        self,
        local: AgentConfig,
        client: PolicySource,
        sink: EventSink,
        apply: Callable[[AppliedPolicy], None],
        stop: threading.Event,
        current: AppliedPolicy | None,
        *,
        verify: Verifier = verify_policy,
    ) -> None:
        super().__init__(name="caseguard-policy", daemon=True)
        self._verify = verify
        self._local = local
        self._client = client
        self._sink = sink
        self._apply = apply
        self._stop_event = stop
        self.current = current

    @property
    def version(self) -> int:
        """The version in force (0: local settings only)."""
        return self.current.version if self.current else 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.check_once()
            except DeliveryError as exc:
                log.info("policy check: collector unreachable (%s)", exc.code.name)
            except Exception:
                log.exception("policy check failed")
            if self._stop_event.wait(self._local.collector.policy_interval_s):
                return

    def check_once(self) -> bool:
        """One round trip; True if a new version was applied."""
        wire = self._client.get_policy(self.version)
        if wire is None:
            return False
        try:
            policy = self._verify(wire.body, wire.signature, wire.signer_pem, self._local.collector.ca.read_bytes())
        except PolicyRejected as exc:
            log.error("central policy version %d refused: %s", wire.version, exc)
            self._sink.emit("policy_applied", {"version": wire.version, "error": str(exc)})
            return False
        try:
            merged = merge_policy(self._local, policy)
        except ConfigError as exc:  # signed, but not a policy this agent can run with: keep what is in force
            log.error("central policy version %d refused: %s", wire.version, exc)
            self._sink.emit("policy_applied", {"version": wire.version, "error": str(exc)})
            return False
        saved = {
            "version": wire.version,
            "body": wire.body.hex(),
            "signature": wire.signature.hex(),
            "signer_pem": wire.signer_pem.hex(),
        }
        write_atomically(self._local.state_dir / POLICY_FILE, json.dumps(saved).encode(), 0o600)
        applied = AppliedPolicy(wire.version, merged)
        self._apply(applied)
        self.current = applied
        self._sink.emit(
            "policy_applied",
            {"version": wire.version, "tightened_locally": list(applied.merged.tightened_locally)},
        )
        log.info("central policy version %d applied", wire.version)
        return True
