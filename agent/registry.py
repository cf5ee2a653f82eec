"""Read-only access to the Windows registry behind a small interface, so discovery is testable.

Keys are written in full with a hive prefix: ``HKCU\\Software\\Microsoft\\OneDrive``. A service
running as LocalSystem has the wrong ``HKCU``; give ``WinRegistryReader(user_sid=...)`` the
signed-in user's SID and ``HKCU`` is read from ``HKEY_USERS\\<sid>`` instead.
Values come back as strings, unexpanded (``REG_EXPAND_SZ`` keeps its ``%VAR%``).
"""

from __future__ import annotations

import sys
from typing import Protocol


class RegistryReader(Protocol):
    """The registry reads destination discovery needs. Missing keys read as empty, never raise."""

    def subkeys(self, key: str) -> list[str]:
        """Names of the direct subkeys of ``key``."""
        ...

    def values(self, key: str) -> dict[str, str]:
        """All string-convertible values of ``key`` by name (the default value is ``""``)."""
        ...


def value(registry: RegistryReader, key: str, name: str) -> str | None:
    """One value of ``key``, None when the key or the value is missing."""
    return registry.values(key).get(name)


if sys.platform != "win32":

    class WinRegistryReader:
        """``RegistryReader`` over ``winreg``; on this platform constructing it raises ``OSError``."""

        def __init__(self, *, user_sid: str | None = None) -> None:
            raise OSError("the registry exists only on Windows")

        def subkeys(self, key: str) -> list[str]:
            """Never reached."""
            return []

        def values(self, key: str) -> dict[str, str]:
            """Never reached."""
            return {}

else:  # pragma: no cover - exercised on Windows only
    import winreg

    _HIVES = {
        "HKCU": winreg.HKEY_CURRENT_USER,
        "HKEY_CURRENT_USER": winreg.HKEY_CURRENT_USER,
        "HKLM": winreg.HKEY_LOCAL_MACHINE,
        "HKEY_LOCAL_MACHINE": winreg.HKEY_LOCAL_MACHINE,
        "HKU": winreg.HKEY_USERS,
        "HKEY_USERS": winreg.HKEY_USERS,
    }

    class WinRegistryReader:
        """``RegistryReader`` over ``winreg``."""

        def __init__(self, *, user_sid: str | None = None) -> None:
            self._user_sid = user_sid

        def _open(self, key: str) -> winreg.HKEYType | None:
            hive_name, _, sub = key.partition("\\")
            hive_name = hive_name.upper()
            if hive_name in ("HKCU", "HKEY_CURRENT_USER") and self._user_sid:
                hive, sub = winreg.HKEY_USERS, f"{self._user_sid}\\{sub}"
            elif hive_name in _HIVES:
                hive = _HIVES[hive_name]
            else:
                return None
            try:
                return winreg.OpenKey(hive, sub, 0, winreg.KEY_READ)
            except OSError:
                return None

        def subkeys(self, key: str) -> list[str]:
            """Names of the direct subkeys of ``key``."""
            handle = self._open(key)
            if handle is None:
                return []
            names: list[str] = []
            with handle:
                index = 0
                while True:
                    try:
                        names.append(winreg.EnumKey(handle, index))
                    except OSError:
                        return names
                    index += 1

        def values(self, key: str) -> dict[str, str]:
            """All values of ``key`` converted to strings."""
            handle = self._open(key)
            if handle is None:
                return {}
            found: dict[str, str] = {}
            with handle:
                index = 0
                while True:
                    try:
                        name, data, _ = winreg.EnumValue(handle, index)
                    except OSError:
                        return found
                    found[name] = data if isinstance(data, str) else str(data)
                    index += 1
