"""``patient360 survey invite PATIENT_ID --user USERNAME``: a survey link from the shell.

For clinics that send surveys from their own automation (a nightly job after discharges,
say). The command acts as the named staff user, exactly as the ``createSurveyInvitation``
mutation does for them: the same access checks (surveys write, the patient in their
scope, the visit or discharge the patient's own), the same audit row, the same e-mail
rules. stdout carries only the link, so ``LINK=$(patient360 survey invite ...)`` works;
only the link's hash is stored.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.common.commands import err, fail, settings_or_exit

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.orm import Session

    from backend.engagement.surveys import SurveyLink, SurveyRequest

survey_app = typer.Typer(help="Satisfaction surveys.", no_args_is_help=True)


def _uuid(value: str | None, option: str) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{option} takes an id (a UUID)") from None


@survey_app.command("invite")
def invite(
    patient_id: Annotated[str, typer.Argument(help="The patient's id (a UUID).")],
    user: Annotated[str, typer.Option("--user", help="Staff user the invitation is made as.")],
    kind: Annotated[
        str, typer.Option("--kind", help="visit, discharge, alumni or nps_periodic.")
    ] = "visit",
    encounter: Annotated[
        str | None, typer.Option("--encounter", help="The visit (required for --kind visit).")
    ] = None,
    discharge: Annotated[
        str | None,
        typer.Option("--discharge", help="The discharge (required for --kind discharge)."),
    ] = None,
    valid_days: Annotated[
        int, typer.Option("--valid-days", help="How long the link stays valid (1-90 days).")
    ] = 14,
    email: Annotated[
        bool,
        typer.Option(
            "--email",
            help="E-mail the link if the patient allows survey e-mail and has an address.",
        ),
    ] = False,
) -> None:
    """Print a one-time satisfaction survey link for a patient's visit or discharge."""
    from backend.common.mixins import utcnow
    from backend.db import make_engine, transaction
    from backend.engagement.survey_mail import email_survey_link
    from backend.engagement.surveys import SurveyRequest, mark_sent, survey_email

    patient = _uuid(patient_id, "PATIENT_ID")
    assert patient is not None
    request = SurveyRequest(
        patient_id=patient,
        kind=kind,
        encounter_id=_uuid(encounter, "--encounter"),
        discharge_id=_uuid(discharge, "--discharge"),
        valid_days=valid_days,
    )
    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    run = f"cli-survey-{uuid.uuid4().hex}"
    try:
        with transaction(engine) as session:
            link = _create(
                session, user=user, request=request, run=run, policies_dir=settings.policies_dir
            )
            address = survey_email(session, patient) if email else None
        url = settings.base_url + link.path
        emailed = address is not None and email_survey_link(
            settings=settings, to=address, link=url, expires_at=link.expires_at
        )
        if emailed:
            with transaction(engine) as session:
                mark_sent(session, link.invitation_id, utcnow())
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    print(url)
    err.print(f"expires {link.expires_at.isoformat()}; the link works once")
    if emailed:
        err.print("e-mailed to the patient")
    elif email:
        err.print(
            "not e-mailed: the patient has no e-mail address or does not allow survey e-mail"
            if address is None
            else f"not e-mailed: the mail relay {settings.smtp_host}:{settings.smtp_port} failed"
        )


def _create(
    session: Session, *, user: str, request: SurveyRequest, run: str, policies_dir: Path
) -> SurveyLink:
    """The invitation, made as ``user`` with the checks and audit the API applies."""
    from backend.access.policy import policy_store
    from backend.auth.principals import named_staff_principal
    from backend.common.errors import Forbidden, InvalidInput, NotFound
    from backend.engagement.surveys import create_survey_invitation

    principal = named_staff_principal(session=session, username=user, token_id=run)
    if principal is None:
        raise fail(f"no active staff user named {user!r}", 2)
    try:
        return create_survey_invitation(
            session=session,
            principal=principal,
            policy=policy_store(policies_dir).current(),
            request=request,
            request_id=run,
        )
    except InvalidInput as exc:
        problems = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise fail(f"invalid invitation: {problems}", 2) from None
    except Forbidden as exc:
        raise fail(f"{user} may not do this: {exc}") from None
    except NotFound:
        raise fail("no such patient, visit or discharge in this user's scope") from None
