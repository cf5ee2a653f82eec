"""Read-only access to the Windows registry behind a small interface, so discovery is testable.

Keys are written in full with a hive prefix: ``HKCU\\Software\\Microsoft\\OneDrive``. A service
running as LocalSystem has the wrong ``HKCU``; give ``WinRegistryReader(user_sid=...)`` the
signed-in user's SID and ``HKCU`` is read from ``HKEY_USERS\\<sid>`` instead.
Values come back as strings, unexpanded (``REG_EXPAND_SZ`` keeps its ``%VAR%``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Protocol

from agent.errors import AgentError


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


def _as_text(data: object) -> str:
    if isinstance(data, list):  # REG_MULTI_SZ
        return "\n".join(str(item) for item in data)
    return data if isinstance(data, str) else str(data)


# A person's hive is a few MB; anything far larger is not one (and is not read into memory).
HIVE_FILE_MAX_BYTES = 256 * 1024 * 1024


class HiveFileError(AgentError, OSError):
    """A registry hive file that could not be read; ``str()`` is a short reason, never a path."""


class HiveFileReader:
    """``RegistryReader`` over a hive file (``NTUSER.DAT``) read offline, for a person not signed in.

    The file is read whole into memory and closed at once (regipy, pure Python, so this runs and
    is tested on every platform): holding it open would stop that person from signing in, since
    the profile service loads the hive exclusively. ``HKCU\\...`` keys are the hive's own; every
    other hive reads empty.

    A hive Windows did not finish writing (its two sequence numbers differ: the last changes are
    only in ``NTUSER.DAT.LOG1``/``LOG2``, e.g. after a crash or power loss) is read with the log
    that carries on from its last complete write applied (its first entry's sequence number is the
    hive's secondary one; the other log is older and already in the file). regipy's recovery does
    it, on private copies in a temporary folder deleted at once, so a OneDrive account added just
    before is not missed. Without such a log, or with a damaged one, the hive is read as last
    written, and ``recovery`` says so ("applied", "failed", or "" when none was needed).
    """

    def __init__(self, path: Path) -> None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise HiveFileError(f"unreadable: {type(exc).__name__}") from None
        if size > HIVE_FILE_MAX_BYTES:
            raise HiveFileError("too large for a registry hive")
        from regipy.registry import RegistryHive  # only when a signed-out person is read

        try:
            self._hive: Any = RegistryHive(str(path))  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise HiveFileError(f"unreadable: {type(exc).__name__}") from None
        except Exception:  # the parser's own errors, on a file that is not a hive (or is damaged)
            raise HiveFileError("not a registry hive") from None
        self.recovery = ""
        header = self._hive.header
        if header.primary_sequence_num != header.secondary_sequence_num:
            log = current_log(transaction_logs(path), int(header.secondary_sequence_num))
            if log is None:
                self.recovery = "failed"  # dirty, and no log continues from where the file stops
            else:
                self._hive, self.recovery = _with_log_applied(path, log, self._hive)

    def _key(self, key: str) -> Any:
        hive, sep, rest = key.partition("\\")
        if hive.upper() not in ("HKCU", "HKEY_CURRENT_USER"):
            return None
        try:
            return self._hive.get_key("\\" + rest if sep else "\\")
        except Exception:  # a missing key (RegistryKeyNotFoundException), or damage below it
            return None

    def subkeys(self, key: str) -> list[str]:
        """Names of the direct subkeys of ``key``."""
        found = self._key(key)
        if found is None:
            return []
        try:
            return [str(sub.name) for sub in found.iter_subkeys()]
        except Exception:
            return []

    def values(self, key: str) -> dict[str, str]:
        """All values of ``key`` converted to strings (the default value is ``""``)."""
        found = self._key(key)
        if found is None:
            return {}
        try:
            return {
                ("" if v.name == "(default)" else str(v.name)): _as_text(v.value)
                for v in found.iter_values(trim_values=False)
            }
        except Exception:
            return {}


def transaction_logs(hive: Path) -> list[Path]:
    """The hive's transaction logs beside it (``NTUSER.DAT.LOG1`` then ``LOG2``, any case), if any."""
    wanted = [hive.name.lower() + suffix for suffix in (".log1", ".log2")]
    try:
        beside = {entry.name.lower(): entry for entry in hive.parent.iterdir()}
    except OSError:
        return []
    found = []
    for name in wanted:
        entry = beside.get(name)
        try:
            if entry is not None and 0 < entry.stat().st_size <= HIVE_FILE_MAX_BYTES:
                found.append(entry)
        except OSError:
            continue
    return found


def _first_log_sequence(log: Path) -> int | None:
    """The sequence number of a log's first entry (an HvLE block after its 512-byte base block), or None."""
    try:
        with open(log, "rb") as f:
            head = f.read(528)
    except OSError:
        return None
    if len(head) < 528 or head[:4] != b"regf" or head[512:516] != b"HvLE":
        return None
    return int.from_bytes(head[524:528], "little")


def current_log(logs: list[Path], secondary_sequence: int) -> Path | None:
    """The log whose entries carry on from the hive's last complete write (its first entry's sequence
    number is the hive's secondary one); an older log holds changes the file already has."""
    return next((log for log in logs if _first_log_sequence(log) == secondary_sequence), None)


def _with_log_applied(path: Path, log: Path, hive: Any) -> tuple[Any, str]:
    """``hive`` with ``log`` applied (and "applied"), or as it was (and "failed")."""
    import tempfile
    import warnings

    from regipy.recovery import apply_transaction_logs
    from regipy.registry import RegistryHive

    try:
        with tempfile.TemporaryDirectory(prefix="caseguard-hive-") as tmp:  # 0700, removed at once
            # Copies first, each read whole and closed at once: the recovery code leaves the files
            # it reads to the garbage collector, and the person's own files must not stay open.
            work = Path(tmp)
            copies = []
            for i, source in enumerate((path, log)):
                with open(source, "rb") as src:
                    data = src.read(HIVE_FILE_MAX_BYTES + 1)
                copy = work / f"{i}.dat"
                copy.write_bytes(data)
                copies.append(str(copy))
            restored = work / "restored.dat"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)  # its unclosed reads of our copies
                apply_transaction_logs(copies[0], copies[1], restored_hive_path=str(restored))  # type: ignore[no-untyped-call]
                return RegistryHive(str(restored)), "applied"  # type: ignore[no-untyped-call]
    except Exception:  # a damaged log: the hive as last written still tells most
        return hive, "failed"


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
