"""The case-management export as the central policy carries it: checked, then keyed hashes only.

IT exports the NHS numbers, case references and NI numbers of the children the service works
with; ``policy set --identifiers`` checks every value (NHS check digit, NI format), hashes each
under the organisation key exactly as the agents' protected-store index does
(``caseguard.identifiers``), and publishes the hashes. The values are never stored or sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from caseguard.identifiers import ExportError, export_hashes, key_check, read_export, read_org_key
from collector.policy.document import PolicyError

# The signed policy travels to every laptop in one gRPC message (4 MB by default): 80,000 hashes
# of 32 hex characters make about 2.8 MB of it.
MAX_POLICY_IDENTIFIERS = 80_000
KIND_NAMES = {"nhs": "NHS numbers", "ref": "case references", "ni": "NI numbers"}


@dataclass(frozen=True)
class CheckedExport:
    """How many identifiers of each kind an export holds, and (when a key was given) their hashes."""

    counts: dict[str, int]
    hashes: tuple[str, ...] = ()
    key_check: str = ""  # published beside the hashes: which key made them

    def summary(self) -> str:
        """"1,200 NHS numbers, 800 case references and 0 NI numbers" (counts only)."""
        parts = [f"{self.counts.get(k, 0):,} {name}" for k, name in KIND_NAMES.items()]
        return f"{parts[0]}, {parts[1]} and {parts[2]}"


def check_export(path: Path, org_key_file: Path | None = None) -> CheckedExport:
    """Read and check the export at ``path``; with ``org_key_file``, hash it for the policy.

    Raises ``PolicyError`` with one line naming the file, line and column (never a value).
    """
    try:
        export = read_export(path, strict=True)
    except ExportError as exc:
        raise PolicyError(str(exc)) from None
    if len(export.values) > MAX_POLICY_IDENTIFIERS:
        raise PolicyError(
            f"{path}: {len(export.values):,} identifiers; at most {MAX_POLICY_IDENTIFIERS:,} fit in a policy "
            "every laptop can receive"
        )
    if not export.values:
        raise PolicyError(f"{path}: no identifiers (every cell of its identifier columns is empty)")
    if org_key_file is None:
        return CheckedExport(export.counts)
    try:
        key = read_org_key(org_key_file)
    except OSError as exc:
        raise PolicyError(f"{org_key_file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    return CheckedExport(export.counts, tuple(export_hashes(key, export.values)), key_check(key))
