"""Signed audit checkpoints: files that prove where the audit chain stood, kept off the database.

Anyone who can write the database can rewrite the chain *and* its head, so the chain
alone cannot show truncation or a rewrite with recomputed hashes. A checkpoint is the
chain's (seq, hash, time) signed with the collector's audit key (ECDSA P-256, in the PKI
folder, never in the database). ``verify`` then fails unless the chain still holds the
checkpointed entry unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from collector.domain.audit_chain import CHECKPOINT_FORMAT, ChainProblem, Checkpoint, checkpoint_of, verify_against
from collector.pki import PkiPaths, ensure_audit_signer
from collector.store.workflow_base import WorkflowStore
from collector.workflow.errors import WorkflowError


class CheckpointError(WorkflowError):
    """A checkpoint file that is unreadable, not ours, or altered."""


def key_id(key: ec.EllipticCurvePublicKey) -> str:
    """``SHA256:<hex>`` of the public key (SubjectPublicKeyInfo DER)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def signed_checkpoint(store: WorkflowStore, paths: PkiPaths, now: datetime) -> tuple[Checkpoint, str]:
    """(checkpoint of the chain as it is now, the signed checkpoint document as JSON text)."""
    key = ensure_audit_signer(paths)
    checkpoint = checkpoint_of(list(store.audit_entries()), now)
    signature = key.sign(checkpoint.payload().encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    document = {
        "format": CHECKPOINT_FORMAT,
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "at": json.loads(checkpoint.payload())["at"],
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return checkpoint, json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_checkpoint(store: WorkflowStore, paths: PkiPaths, out: Path, now: datetime) -> Checkpoint:
    """Write a signed checkpoint to ``out``, atomically; returns it."""
    checkpoint, text = signed_checkpoint(store, paths, now)
    write_atomically(out, text)
    return checkpoint


def write_atomically(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` so that a reader (or a crash) sees the old file or the whole new one.

    The text goes to a temporary file in the same folder, is flushed to disk, and replaces
    ``out`` in one rename; the folder is synced so the rename itself survives power loss.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(out.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_checkpoint(paths: PkiPaths, path: Path) -> Checkpoint:
    """The checkpoint in ``path``, after checking it was signed by this collector's audit key."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(int(document["seq"]), str(document["hash"]), datetime.fromisoformat(document["at"]))
        signature = base64.b64decode(document["signature"], validate=True)
        if document.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} document")
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path} is not an audit checkpoint: {exc}") from exc
    public = ensure_audit_signer(paths).public_key()
    try:
        public.verify(signature, checkpoint.payload().encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CheckpointError(
            f"{path}: the signature does not match this collector's audit key: the checkpoint was altered "
            "or made by another collector"
        ) from None
    return checkpoint


def checkpoint_problems(store: WorkflowStore, checkpoints: Sequence[Checkpoint]) -> list[ChainProblem]:
    """Every way the stored chain fails to extend ``checkpoints``."""
    entries = list(store.audit_entries())
    return [p for c in checkpoints for p in verify_against(entries, c)]
