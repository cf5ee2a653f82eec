"""Running the small OS commands that posture readers, lockers and idle clocks ask.

Every reader takes a ``CommandRunner`` as a constructor argument (default ``run_command``)
so tests hand in canned output instead of monkeypatching ``subprocess``. A runner never
raises for the ordinary ways a command fails: a missing program is returncode 127, a
timeout is returncode 124 (the shell's conventions), so callers branch on ``ok`` alone.
"""

from __future__ import annotations

import locale
import logging
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

NOT_FOUND = 127
TIMED_OUT = 124
DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CommandResult:
    """What one command printed and how it exited."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.returncode == 0

    def describe(self) -> str:
        """A one-line, log-safe account of a failure (program name, exit code, first stderr line)."""
        first = self.stderr.strip().splitlines()[0] if self.stderr.strip() else ""
        name = self.argv[0] if self.argv else "?"
        return f"{name} exited {self.returncode}" + (f": {first[:200]}" if first else "")


class CommandRunner(Protocol):
    """Runs ``argv`` to completion within ``timeout_s`` and returns what it printed."""

    def __call__(self, argv: Sequence[str], timeout_s: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Run one command."""
        ...


def console_encoding(platform: str = sys.platform) -> str:
    """How console programs encode what they write to a pipe.

    Windows tools (manage-bde, powercfg, reg, PowerShell) write the OEM code page (cp850 on a German
    Windows, cp437 on an English one), not the ANSI one Python assumes: umlauts in localised output
    would arrive garbled. Elsewhere: the locale's encoding.
    """
    return "oem" if platform == "win32" else locale.getpreferredencoding(False)


def run_command(
    argv: Sequence[str],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` without a shell, capturing text output; never raises for a failed command."""
    args = tuple(argv)
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            encoding=console_encoding(),
            errors="replace",
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
        )
    except FileNotFoundError:
        return CommandResult(args, NOT_FOUND, "", f"{args[0]}: command not found")
    except PermissionError as exc:
        return CommandResult(args, NOT_FOUND, "", f"{args[0]}: {exc.strerror}")
    except subprocess.TimeoutExpired:
        log.warning("command timed out after %.1fs: %s", timeout_s, args[0])
        return CommandResult(args, TIMED_OUT, "", f"{args[0]}: timed out after {timeout_s:.1f}s")
    return CommandResult(args, done.returncode, done.stdout, done.stderr)
