"""Judging one file as the agent does: the configured policy against the protected-store index.

The running agent (``EgressPipeline``) and ``caseguard-agent classify`` both judge through
``FileJudge``, so what IT sees on the command line is what the agent reports: exact copies and
excerpts of files under ``[case_files] roots`` are found by the same index.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from agent.classifier_policy import classifier_policy
from agent.classify import ClassifierPolicy, Verdict, analyse_protected, classify_file
from agent.config import AgentConfig
from agent.protected.index import ProtectedIndex, ReconcileStats
from agent.sandbox import configure_default_sandbox
from caseguard.identifiers import read_org_key

log = logging.getLogger(__name__)

INDEX_SUBDIR = "protected"


class FileJudge:
    """The classifier policy from ``config`` and the protected-store index under ``index_dir``.

    ``index_dir`` defaults to ``<state_dir>/protected``, the agent's own index. Thread-safe for ``judge``.
    """

    def __init__(self, config: AgentConfig, org_key: bytes, *, index_dir: Path | None = None) -> None:
        self.policy: ClassifierPolicy = classifier_policy(config)
        configure_default_sandbox(
            workers=config.case_files.extraction_workers,
            recycle_after_jobs=config.case_files.extraction_worker_jobs,
        )
        self.index = ProtectedIndex(
            index_dir or config.state_dir / INDEX_SUBDIR,
            config.case_files.roots,
            org_key,
            partial(
                analyse_protected, limits=self.policy.limits, scheme=self.policy.fingerprint_scheme,
                reference_patterns=self.policy.reference_patterns,
            ),
            scheme=self.policy.fingerprint_scheme.name,
            known_identifiers_csv=config.case_files.known_identifiers_csv,
            central_identifier_hashes=config.case_files.known_identifier_hashes,
        )

    def judge(self, path: str | os.PathLike[str]) -> Verdict:
        """The verdict on the file at ``path`` (never raises for anything about the file)."""
        return classify_file(path, self.policy, self.index)

    def reconcile(self) -> ReconcileStats:
        """Bring the index up to date with the protected stores (incremental)."""
        return self.index.reconcile()

    def close(self) -> None:
        """Close the index."""
        self.index.close()


class CommandLineJudge:
    """A ``FileJudge`` for a one-off command: the agent's index when this user may write it, else a
    private index in a temporary folder built from the same roots (slower, same verdicts).

    ``note`` says, in one line, which was used when it was not the agent's own.
    """

    def __init__(self, config: AgentConfig, load_key: Callable[[], bytes] | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.note: str | None = None
        try:
            key = load_key() if load_key is not None else _load_key(config)
            self.judge = FileJudge(config, key)
        except (OSError, ValueError, sqlite3.Error) as exc:
            self._tmp = tempfile.TemporaryDirectory(prefix="caseguard-classify-")
            self.note = (
                f"the agent's protected-store index is not usable here ({type(exc).__name__}); "
                "indexing [case_files] roots into a temporary index"
            )
            self.judge = FileJudge(config, os.urandom(32), index_dir=Path(self._tmp.name))

    def close(self) -> None:
        """Close the index and remove any temporary one."""
        self.judge.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def _load_key(config: AgentConfig) -> bytes:
    return load_org_key(config)


def load_org_key(config: AgentConfig) -> bytes:
    """The organisation's HMAC key, or a device-local one (with a warning) when none is configured."""
    path = config.privacy.org_key_file
    if path is not None:
        return read_org_key(path)
    local = config.state_dir / "device-hmac.key"
    if not local.exists():
        local.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32).hex().encode())
    log.warning("no [privacy] org_key_file: keyed hashes are device-local and will not correlate across devices")
    return local.read_bytes().strip()
