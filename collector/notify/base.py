"""What every notification channel offers, and its one error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from collector.errors import CollectorError


class NotifyError(CollectorError):
    """A notification could not be delivered (the message says why; it holds no personal data)."""


class Channel(Protocol):
    """One way of telling the IG team; ``name`` is "email" or "webhook"."""

    name: str

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Deliver one notice; raise ``NotifyError`` on failure."""
        ...
