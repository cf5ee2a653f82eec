"""`caseguard-collector`: the command line, the one layer that imports every other package.

- ``main``: the parser, the root-error boundary and the device/event/PKI commands.
- ``options``: the options every command shares (``--data-dir``, ``--database-url``,
  ``--config``, ``--json``, ``--by``), declared once.
- ``enrollment``, ``workflow``, ``console``: the enrolment-token and policy, incident and
  console-account command groups.
"""

from __future__ import annotations

from collector.cli.main import main

__all__ = ["main"]
