"""The facts about the machine that OS backends are chosen by, read once at the entry point.

``Host.current()`` is this process's platform, environment and (on Windows) registry. Tests build
another ``Host`` (say, Windows with a fake registry and a LocalSystem service's environment) and
hand it to ``AgentRuntime`` instead of patching ``sys.platform`` or ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.registry import HiveFileReader, RegistryReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Host:
    """Platform (``sys.platform`` spelling), the agent's own environment, and the machine's registry.

    ``registry`` is the whole-machine view (``HKLM``, ``HKU``); None off Windows, or where it
    cannot be opened. A service's own ``HKCU`` is SYSTEM's, so per-user reads go through
    ``HKU\\<SID>`` (see :mod:`agent.egress.users`).
    """

    platform: str = sys.platform
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    registry: RegistryReader | None = None
    # Opens a signed-out person's own hive file (``NTUSER.DAT``) offline; raises ``OSError``.
    hive_file: Callable[[Path], RegistryReader] = HiveFileReader

    @property
    def is_windows(self) -> bool:
        """True on Windows."""
        return self.platform == "win32"

    @classmethod
    def current(cls) -> Host:
        """This machine, with the real registry on Windows."""
        registry: RegistryReader | None = None
        if sys.platform == "win32":
            from agent.registry import WinRegistryReader

            try:
                registry = WinRegistryReader()
            except OSError as exc:
                log.warning("the registry cannot be opened (%s); per-user discovery is limited", exc)
        return cls(sys.platform, dict(os.environ), registry)
