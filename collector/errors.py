"""The root of every error ``caseguard-collector`` reports to a person, and its exit codes.

Every error class in the collector derives from ``CollectorError`` (keeping its own name and
any built-in base it had), so the command line catches one class and prints one line. The
exit code is the class's ``exit_code``:

- 0: done;
- 1: ``CollectorError``: the command ran and failed (refused, not found, unreachable);
- 2: ``UsageError``: the command line or the configuration is wrong, fix it and run again.
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CollectorError(Exception):
    """Something the collector could not do; the message is one line written for the person running it."""

    exit_code: ClassVar[int] = EXIT_FAILED


class UsageError(CollectorError):
    """A bad command line or configuration value (exit 2)."""

    exit_code: ClassVar[int] = EXIT_USAGE
