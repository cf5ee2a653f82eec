"""The agent's version string, as installed."""

from __future__ import annotations

# Read from the package itself, not importlib.metadata: scanning the installed distributions for
# this one string cost each agent process 3.5 MB RSS (and imports the email package).
from caseguard import __version__ as AGENT_VERSION

__all__ = ["AGENT_VERSION"]
