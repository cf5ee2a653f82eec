"""Runs the real AgentRuntime as a Windows LocalSystem service would see the world, on this box.

``python -m tests.integration.windows_service CONFIG ROOT``: platform "win32", no ``socket.AF_UNIX``
(CPython on Windows has none), the registry read from the exported sample moved under ``ROOT``
(see ``tests.unit.egress.windows_machine``) and re-read whenever the file changes (so a test can
sign a person in), and the service's own environment (USERPROFILE = systemprofile).
"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from types import FrameType

from tests.unit.egress.reg_file import RegFileRegistry
from tests.unit.egress.windows_machine import WindowsMachine


class LiveRegFile:
    """A RegistryReader over a .reg export that is re-read when the file changes."""

    def __init__(self, path: Path, machine: WindowsMachine) -> None:
        self._path = path
        self._machine = machine
        self._stamp = -1
        self._registry = self._load()

    def _load(self) -> RegFileRegistry:
        self._stamp = self._path.stat().st_mtime_ns
        return RegFileRegistry(self._path, self._machine.map_text)

    def _current(self) -> RegFileRegistry:
        if self._path.stat().st_mtime_ns != self._stamp:
            self._registry = self._load()
        return self._registry

    def subkeys(self, key: str) -> list[str]:
        return self._current().subkeys(key)

    def values(self, key: str) -> dict[str, str]:
        return self._current().values(key)


def main(config_path: str, root: str, reg_path: str) -> int:
    import psutil  # noqa: F401 - psutil's Linux backend (not its Windows one) needs AF_UNIX at import

    if hasattr(socket, "AF_UNIX"):
        del socket.AF_UNIX  # as on Windows: the agent's own code must do without it
    from agent.config import load_config
    from agent.host import Host
    from agent.runtime import AgentRuntime

    machine = WindowsMachine(Path(root))
    host = Host("win32", machine.service_env(), LiveRegFile(Path(reg_path), machine), hive_file=machine.hive_file)
    runtime = AgentRuntime(load_config(Path(config_path)), host=host)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        runtime.stop(reason=signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    runtime.start()
    runtime.wait()
    runtime.stop()
    return 0


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(*sys.argv[1:]))
