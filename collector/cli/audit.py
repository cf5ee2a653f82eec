"""Audit entries for what the command line does outside the workflow's own commands.

Incident steps audit themselves (``collector.workflow``); this records the rest (device
revocations, published policies, console accounts and owners) in the same hash-chained log,
with ``--by`` as the actor exactly as the console records its signed-in user.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from collector.cli.options import actor
from collector.config import load_config, workflow_service
from collector.console.audit import ConsoleAudit
from collector.domain.canonical_json import JsonValue
from collector.store.factory import open_workflow_store


def record(args: argparse.Namespace, action: str, subject: str, details: Mapping[str, JsonValue] | None = None) -> None:
    """Append one entry, by ``actor(args)``, to the audit log of the store ``args`` names."""
    store = open_workflow_store(args.data_dir, args.database_url)
    try:
        ConsoleAudit(workflow_service(store, load_config(args.config))).record(actor(args), action, subject, details)
    finally:
        store.close()
