"""A generic JSON webhook: POST the notice payload to one URL (urllib).

With a secret file configured, the body is signed: ``X-Caseguard-Signature: sha256=<hex>``
is the HMAC-SHA256 of the exact body under the secret, so the receiver can check the
sender. The opener is a constructor argument; the default is ``urllib.request.urlopen``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.notify.base import NotifyError


@dataclass(frozen=True)
class WebhookSettings:
    """Where to POST notices, how long to wait, and the optional signing secret's file."""

    url: str
    timeout_s: float = 10.0
    secret_file: Path | None = None


def _secret(path: Path) -> bytes:
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise NotifyError(f"cannot read webhook secret file {path}: {exc.strerror or exc}") from exc
    if not secret:
        raise NotifyError(f"webhook secret file {path} is empty")
    return secret


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POSTs each notice as ``{"kind": ..., "notice": {...}}`` JSON."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings, *, opener: Callable[..., Any] = urllib.request.urlopen) -> None:
        if not settings.url.startswith(("https://", "http://")):
            raise NotifyError("the webhook URL must start with https:// (or http:// on a trusted network)")
        self._settings = settings
        self._open = opener

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        """POST one notice; any HTTP status outside 2xx, or a network error, becomes ``NotifyError``."""
        s = self._settings
        body = json.dumps({"kind": kind, "notice": dict(payload)}, sort_keys=True).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "caseguard-collector"}
        if s.secret_file is not None:
            headers["X-Caseguard-Signature"] = sign(_secret(s.secret_file), body)
        request = urllib.request.Request(s.url, data=body, headers=headers, method="POST")
        try:
            with self._open(request, timeout=s.timeout_s) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise NotifyError(f"webhook answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotifyError(f"webhook unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise NotifyError(f"webhook answered HTTP {status}")
