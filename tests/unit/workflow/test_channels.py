"""Email composition, webhook signing, and transport errors translated into NotifyError."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import urllib.error
from pathlib import Path

import pytest

from collector.notify.base import NotifyError
from collector.notify.mail import SmtpChannel, SmtpSettings, compose
from collector.notify.webhook import WebhookChannel, WebhookSettings, sign

PAYLOAD = {
    "event": "deadline_warning",
    "message": "4 h 00 min left",
    "incident_id": "INC-2025-0001",
    "state": "confirmed",
    "risk_grade": "high",
    "deadline_london": "Thu 23 Oct 2025, 09:00 BST",
    "devices": ["laptop-1"],
    "destination_classes": ["removable_volume"],
    "warning": "statutory:14400",
}


def test_the_email_says_what_and_when_without_personal_data() -> None:
    msg = compose(SmtpSettings("localhost", to=("ig@example.org",)), "deadline_warning", PAYLOAD)
    assert msg["Subject"] == "[Caseguard] INC-2025-0001: ICO deadline Thu 23 Oct 2025, 09:00 BST"
    text = msg.get_content()
    assert "Risk grade: high" in text and "Devices: laptop-1" in text and "Destinations: removable_volume" in text


def test_smtp_failures_become_notify_errors() -> None:
    def refusing(*args: object, **kwargs: object) -> smtplib.SMTP:
        raise ConnectionRefusedError(111, "Connection refused")

    channel = SmtpChannel(SmtpSettings("127.0.0.1", 1, to=("ig@example.org",)), smtp_factory=refusing)
    with pytest.raises(NotifyError, match="failed"):
        channel.send("new_incident", PAYLOAD)


def test_webhook_signs_the_exact_body(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    seen = {}

    class Reply:
        status = 204

        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def opener(request, timeout):
        seen["body"], seen["sig"] = request.data, request.get_header("X-caseguard-signature")
        return Reply()

    WebhookChannel(WebhookSettings("https://h.example/x", secret_file=secret), opener=opener).send("k", PAYLOAD)
    assert seen["sig"] == "sha256=" + hmac.new(b"s3cret", seen["body"], hashlib.sha256).hexdigest()
    assert sign(b"s3cret", seen["body"]) == seen["sig"]


def test_webhook_errors_become_notify_errors() -> None:
    def failing(request, timeout):
        raise urllib.error.URLError("no route")

    with pytest.raises(NotifyError, match="unreachable"):
        WebhookChannel(WebhookSettings("https://h.example/x"), opener=failing).send("k", PAYLOAD)
