"""Outgoing e-mail over SMTP, to the relay named in settings.

Plain :mod:`smtplib`: the relay is operated by the clinic (or a local test server), so
there is no vendor API to wrap. STARTTLS is used whenever the relay offers it. Failures
raise :class:`MailError` naming the relay, never the recipient or the message.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from backend.settings import Settings

SMTP_TIMEOUT_SECONDS = 10


class MailError(RuntimeError):
    """The relay refused or could not be reached."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


def send_mail(*, settings: Settings, mail: Mail) -> None:
    """Send one plain-text message; raises :class:`MailError` when it cannot."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message.set_content(mail.body)
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"mail relay {settings.smtp_host}:{settings.smtp_port} failed: {type(exc).__name__}"
        ) from None
