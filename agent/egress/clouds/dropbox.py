"""Dropbox: ``info.json`` names the personal and business roots.

It lives in ``~/.dropbox/`` (Linux, macOS) or ``%LOCALAPPDATA%\\Dropbox\\`` / ``%APPDATA%\\Dropbox\\``
(Windows), e.g. ``{"personal": {"path": "...", ...}, "business": {"path": "...", "is_team": true}}``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from agent.egress.clouds import KIND_DROPBOX_BUSINESS, KIND_DROPBOX_PERSONAL, CloudRoot, DiscoveryContext

logger = logging.getLogger(__name__)


def info_json_locations(ctx: DiscoveryContext) -> list[Path]:
    """Where ``info.json`` may be, most specific first."""
    locations = [ctx.home / ".dropbox" / "info.json"]
    if ctx.is_windows:
        for variable in ("LOCALAPPDATA", "APPDATA"):
            base = ctx.getenv(variable)
            if base:
                locations.append(Path(base) / "Dropbox" / "info.json")
    return locations


def parse_info_json(data: str) -> list[tuple[str, str]]:
    """``(kind, path)`` for each account in an ``info.json`` document; ``ValueError`` if malformed."""
    parsed: Any = json.loads(data)
    if not isinstance(parsed, dict):
        raise ValueError("info.json is not an object")
    accounts: list[tuple[str, str]] = []
    for name, account in parsed.items():
        if not isinstance(account, dict) or not isinstance(account.get("path"), str):
            continue
        business = name == "business" or account.get("is_team") is True
        accounts.append((KIND_DROPBOX_BUSINESS if business else KIND_DROPBOX_PERSONAL, account["path"]))
    return accounts


def find(ctx: DiscoveryContext) -> list[CloudRoot]:
    """Dropbox roots from every ``info.json`` found."""
    roots: list[CloudRoot] = []
    for location in info_json_locations(ctx):
        try:
            text = location.read_text(encoding="utf-8")
        except OSError:
            continue
        try:
            accounts = parse_info_json(text)
        except ValueError:
            logger.warning("dropbox: an info.json could not be parsed")
            continue
        roots.extend(CloudRoot(Path(path), kind, "info.json") for kind, path in accounts)
    return roots
