"""The options every ``caseguard-collector`` command shares, declared once with one help text each.

Commands take them as argparse parent parsers: ``parents=[STORE, CONFIG, JSON]``. Who acts
(``--by NAME``) is written to the audit log (and to a policy version) exactly as given;
commands where it may be left out record the operating-system account as ``cli:USER``.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import NoReturn

from collector.config import DEFAULT_DATA_DIR, CollectorEnvironment

DATA_DIR_HELP = f"where the store and PKI live (default: $CASEGUARD_DATA_DIR or {DEFAULT_DATA_DIR})"
DATABASE_URL_HELP = (
    "postgresql://... to keep everything in PostgreSQL instead of SQLite in --data-dir "
    "(default: $CASEGUARD_DATABASE_URL); the PKI stays in --data-dir"
)
CONFIG_HELP = "collector.toml (default: $CASEGUARD_COLLECTOR_CONFIG; see deploy/collector.example.toml)"
JSON_HELP = "print JSON instead of text (lists: one object a line)"
BY_HELP = "who is doing this (written to the audit log)"


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit 2 (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: MESSAGE (see PROG --help)`` and exit 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parent() -> Parser:
    return Parser(add_help=False)


def store_options() -> Parser:
    """``--data-dir`` and ``--database-url``: where the store (and the PKI) are."""
    p = _parent()
    p.add_argument("--data-dir", type=Path, default=None, help=DATA_DIR_HELP)
    p.add_argument("--database-url", default=None, help=DATABASE_URL_HELP)
    return p


def config_option() -> Parser:
    """``--config collector.toml``."""
    p = _parent()
    p.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
    return p


def apply_environment(args: argparse.Namespace, env: CollectorEnvironment) -> None:
    """Fill the options left out with the (validated) environment's values, read once in ``main``."""
    for name in ("data_dir", "database_url", "config"):
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, getattr(env, name))


def json_option() -> Parser:
    """``--json``."""
    p = _parent()
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    return p


def by_option(*, required: bool = True) -> Parser:
    """``--by NAME``; when not required it defaults to the operating-system account, ``cli:USER``."""
    p = _parent()
    if required:
        p.add_argument("--by", required=True, metavar="NAME", help=BY_HELP)
    else:
        p.add_argument("--by", default=None, metavar="NAME", help=BY_HELP + " (default: cli:YOUR-LOGIN)")
    return p


def actor(args: argparse.Namespace) -> str:
    """Who is acting: ``--by`` as given, else ``cli:`` and the operating-system account."""
    given: str | None = getattr(args, "by", None)
    if given:
        return given
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


STORE = store_options()
CONFIG = config_option()
JSON = json_option()
BY = by_option()
BY_OPTIONAL = by_option(required=False)
