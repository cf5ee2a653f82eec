"""Caseguard's shared code (settings, central policy, identifiers) and wire contract (``caseguard.v1``)."""

__version__ = "0.1.0"
