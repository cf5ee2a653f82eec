"""A fake registry read from a ``regedit`` export (``Windows Registry Editor Version 5.00``).

Enough of the format for exported samples: ``[KEY]`` lines, ``"name"=`` / ``@=`` values that are
strings, ``dword:``, ``hex(2):`` (REG_EXPAND_SZ, UTF-16LE), ``hex(7):`` (REG_MULTI_SZ) and ``hex:``,
with ``\\`` line continuations and ``;`` comments. ``map_text`` rewrites every key-value string (used
to move ``C:\\`` paths into a test's temporary directory).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_HIVES = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKEY_USERS": "HKU"}
_VALUE = re.compile(r'^(?:"(?P<name>(?:[^"\\]|\\.)*)"|@)=(?P<data>.*)$')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _decode(data: str) -> str:
    if data.startswith('"'):
        return _unescape(data[1:-1])
    if data.startswith("dword:"):
        return str(int(data[6:], 16))
    kind, _, payload = data.partition(":")
    raw = bytes(int(b, 16) for b in payload.replace(" ", "").split(",") if b)
    if kind in ("hex(2)", "hex(7)"):
        text = raw.decode("utf-16-le").rstrip("\0")
        return text.replace("\0", "\n") if kind == "hex(7)" else text
    return raw.hex()


class RegFileRegistry:
    """``RegistryReader`` over an exported ``.reg`` file; every ancestor key exists too."""

    def __init__(self, path: Path, map_text: Callable[[str], str] = lambda s: s) -> None:
        self._values: dict[str, dict[str, str]] = {}
        self._names: set[str] = set()
        key: str | None = None
        text = path.read_text(encoding="utf-8-sig")
        for line in re.sub(r"\\\n\s*", "", text).splitlines():
            line = line.strip()
            if not line or line.startswith(";") or line.startswith("Windows Registry Editor"):
                continue
            if line.startswith("[") and line.endswith("]"):
                hive, _, rest = line[1:-1].partition("\\")
                key = f"{_HIVES.get(hive, hive)}\\{rest}" if rest else _HIVES.get(hive, hive)
                parts = key.split("\\")
                self._names.update("\\".join(parts[: i + 1]) for i in range(len(parts)))
                self._values.setdefault(key.lower(), {})
                continue
            match = _VALUE.match(line)
            if key is None or match is None:
                raise ValueError(f"not a .reg line: {line[:60]!r}")
            name = _unescape(match.group("name")) if match.group("name") is not None else ""
            self._values[key.lower()][name] = map_text(_decode(match.group("data")))

    def subkeys(self, key: str) -> list[str]:
        prefix = key.lower() + "\\"
        return sorted({n[len(prefix) :].split("\\")[0] for n in self._names if n.lower().startswith(prefix)})

    def values(self, key: str) -> dict[str, str]:
        return dict(self._values.get(key.lower(), {}))
