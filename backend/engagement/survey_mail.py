"""The e-mail that carries a survey link: one wording for the API and the command line.

The message names no diagnosis, visit reason or clinician: only that there was a visit
and where to answer, because mailboxes are shared and previews are shown on lock screens.
"""

from __future__ import annotations

from datetime import datetime

from backend.common.mail import Mail, MailError, send_mail
from backend.settings import Settings

SURVEY_SUBJECT = "How did we do?"


def survey_mail(*, to: str, link: str, expires_at: datetime) -> Mail:
    body = (
        "Thank you for visiting us. Two quick questions about how we did would help us a "
        f"lot:\n\n{link}\n\nThe link works once and until {expires_at:%d %B %Y}. You do "
        "not need to sign in.\n"
    )
    return Mail(to=to, subject=SURVEY_SUBJECT, body=body)


def email_survey_link(*, settings: Settings, to: str, link: str, expires_at: datetime) -> bool:
    """Send the link; False when the relay fails (the link still works and staff can pass
    it on, so a mail failure never undoes the invitation)."""
    try:
        send_mail(settings=settings, mail=survey_mail(to=to, link=link, expires_at=expires_at))
    except MailError:
        return False
    return True
