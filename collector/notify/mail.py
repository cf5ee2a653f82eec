"""Email to the IG team over SMTP (smtplib), with optional STARTTLS and login.

The SMTP client class is a constructor argument (``smtp_factory``) so tests can count
connections; the default is ``smtplib.SMTP``. Credentials come from a file, never from
the configuration itself: first line the user name, second line the password.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from collector.notify.base import NotifyError


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send email. ``to`` holds one or more addresses of the IG team."""

    host: str
    port: int = 25
    sender: str = "caseguard@localhost"
    to: tuple[str, ...] = ()
    starttls: bool = False
    credentials_file: Path | None = None
    ca_file: Path | None = None
    timeout_s: float = 10.0
    subject_prefix: str = "[Caseguard]"


_SUBJECTS: Mapping[str, str] = {
    "new_incident": "new suspected breach",
    "risk_grade_changed": "risk grade now {risk_grade}",
    "deadline_warning": "ICO deadline {deadline_london}",
    "lost_device_check_in": "a device reported lost has connected",
    "test": "test notice: this channel works",
    "audit_checkpoint": "signed audit checkpoint at entry {audit_seq}",
}
_FIELDS: Sequence[tuple[str, str]] = (
    ("incident_id", "Incident"),
    ("state", "State"),
    ("risk_grade", "Risk grade"),
    ("previous_risk_grade", "Previous risk grade"),
    ("clock", "Clock"),
    ("deadline_london", "Deadline (UK time)"),
    ("deadline", "Deadline (UTC)"),
    ("devices", "Devices"),
    ("destination_classes", "Destinations"),
    ("alert_kinds", "Alerts"),
    ("warning", "Warning"),
    ("message", "Message"),
    ("audit_seq", "Audit entry"),
    ("audit_hash", "Its hash"),
    ("at", "Taken at (UTC)"),
    ("checkpoint_file", "Attached file"),
)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None or value == "" else str(value)


def compose(settings: SmtpSettings, kind: str, payload: Mapping[str, Any]) -> EmailMessage:
    """The email for one notice: a short subject and the notice's fields as plain text."""
    msg = EmailMessage()
    what = _SUBJECTS.get(kind, kind).format_map({k: _text(v) for k, v in payload.items()})
    incident = payload.get("incident_id", "")
    msg["Subject"] = f"{settings.subject_prefix} {incident + ': ' if incident else ''}{what}"
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="caseguard.invalid")
    msg["X-Caseguard-Notice"] = kind
    lines = [str(payload.get("message", "")), ""]
    lines += [f"{label}: {_text(payload[key])}" for key, label in _FIELDS if key in payload]
    if incident:
        lines += ["", f"Details: caseguard-collector incidents show {incident}"]
    lines += ["This message holds no personal data by design; see the collector for the facts."]
    msg.set_content("\n".join(lines) + "\n")
    if isinstance(payload.get("checkpoint"), str):  # a signed audit checkpoint travels as the file itself
        name = str(payload.get("checkpoint_file") or "audit-checkpoint.json")
        msg.add_attachment(payload["checkpoint"].encode("utf-8"), maintype="application", subtype="json", filename=name)
    return msg


def read_credentials(path: Path) -> tuple[str, str]:
    """(user, password) from a two-line file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise NotifyError(f"cannot read SMTP credentials file {path}: {exc.strerror or exc}") from exc
    if len(lines) < 2 or not lines[0].strip():
        raise NotifyError(f"SMTP credentials file {path} must hold the user name, then the password")
    return lines[0].strip(), lines[1]


class SmtpChannel:
    """Sends notices as email; one SMTP connection per notice."""

    name = "email"

    def __init__(self, settings: SmtpSettings, *, smtp_factory: Callable[..., smtplib.SMTP] = smtplib.SMTP) -> None:
        if not settings.to:
            raise NotifyError("email notifications need at least one recipient")
        self._settings = settings
        self._smtp_factory = smtp_factory

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Send one notice; SMTP and socket errors become ``NotifyError``."""
        s = self._settings
        message = compose(s, kind, payload)
        try:
            with self._smtp_factory(s.host, s.port, timeout=s.timeout_s) as smtp:
                if s.starttls:
                    context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
                    smtp.starttls(context=context)
                if s.credentials_file is not None:
                    smtp.login(*read_credentials(s.credentials_file))
                refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"email via {s.host}:{s.port} failed: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise NotifyError(f"email refused for {len(refused)} of {len(s.to)} recipient(s)")
