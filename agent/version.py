"""The agent's version string, as installed."""

from __future__ import annotations

from importlib import metadata

try:
    AGENT_VERSION = metadata.version("caseguard")
except metadata.PackageNotFoundError:  # running from a source tree without install
    AGENT_VERSION = "0.0.0+source"
