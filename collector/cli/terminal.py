"""Text a person reads: device-supplied strings can never drive the terminal.

Circumstances, device labels and reasons come from laptops and staff; printed raw, an
escape sequence in one can rewrite the screen, hide lines or retitle the window of the IG
officer reading ``incidents show``. Every human-readable output of the CLI passes through
``escape_controls`` (``SafeText`` wraps stdout once, at the entry point), so no command
can forget. JSON output is escaped by the encoder already and passes unchanged.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

# C0 controls but newline and tab, DEL, C1 controls, and the Unicode bidirectional overrides
# and isolates that reorder what is displayed ("Trojan Source").
# A carriage return is kept only as the first half of a CRLF line ending (CSV output has them).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character (but newline and tab) shown as an escape, e.g. ``\\x1b``."""
    return _CONTROLS.sub(_escape, text)


class SafeText:
    """A text stream that escapes control characters in everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text`` escaped; returns the length of the original text, as callers expect."""
        self._stream.write(escape_controls(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def install_safe_stdout() -> None:
    """Route this process's stdout through ``SafeText`` (once; at a CLI's entry point)."""
    if not isinstance(sys.stdout, SafeText):
        sys.stdout = SafeText(sys.stdout)  # a TextIO by delegation (__getattr__)
