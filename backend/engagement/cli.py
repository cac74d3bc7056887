"""``patient360 survey invite PATIENT_ID --user USERNAME``: a survey link from the shell.

For clinics that send surveys from their own automation (a nightly job after discharges,
say). The command acts as the named staff user, exactly as the ``createSurveyInvitation``
mutation does for them: the same access checks (surveys write, the patient in their
scope, the visit or discharge the patient's own), the same audit row, the same e-mail
rules. stdout carries only the link, so ``LINK=$(patient360 survey invite ...)`` works;
only the link's hash is stored. A refusal (the policy's, or a patient out of scope) is
audited as the API audits it, with ``client`` ``cli`` and no id, after the refused
work has rolled back.
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

    from backend.access.policy import CompiledPolicy
    from backend.access.principal import Principal
    from backend.api.refusals import Refusal
    from backend.engagement.surveys import SurveyLink, SurveyRequest

OPERATION = "Mutation.createSurveyInvitation"  # what the API's audit row names, too

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
        try:
            with transaction(engine) as session:
                link = _create(
                    session, user=user, request=request, run=run, policies_dir=settings.policies_dir
                )
                address = survey_email(session, patient) if email else None
        except _Refused as refused:
            with transaction(engine) as session:
                refused.audit(session, request_id=run)
            raise fail(refused.message) from None
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


class _Refused(Exception):
    """The policy or the scope refused: the message for the operator, and the refusal
    to audit once the refused transaction has rolled back."""

    def __init__(
        self, message: str, refusal: Refusal, principal: Principal, policy: CompiledPolicy
    ) -> None:
        super().__init__(message)
        self.message, self.refusal = message, refusal
        self.principal, self.policy = principal, policy

    def audit(self, session: Session, *, request_id: str) -> None:
        from backend.api.refusals import record_refusal
        from backend.common.mixins import utcnow

        record_refusal(
            session,
            principal=self.principal,
            policy=self.policy,
            refusal=self.refusal,
            client="cli",
            request_id=request_id,
            now=utcnow(),
        )


def _create(
    session: Session, *, user: str, request: SurveyRequest, run: str, policies_dir: Path
) -> SurveyLink:
    """The invitation, made as ``user`` with the checks and audit the API applies."""
    from backend.access.models import AuditAction
    from backend.access.policy import policy_store
    from backend.api.refusals import Refusal
    from backend.auth.principals import named_staff_principal
    from backend.common.errors import Forbidden, InvalidInput, NotFound
    from backend.engagement.surveys import create_survey_invitation

    principal = named_staff_principal(session=session, username=user, token_id=run)
    if principal is None:
        raise fail(f"no active staff user named {user!r}", 2)
    policy = policy_store(policies_dir).current()
    try:
        return create_survey_invitation(
            session=session, principal=principal, policy=policy, request=request, request_id=run
        )
    except InvalidInput as exc:
        problems = "; ".join(f"{p.field}: {p.message}" for p in exc.problems)
        raise fail(f"invalid invitation: {problems}", 2) from None
    except Forbidden as exc:
        refusal = Refusal.denied(OPERATION, AuditAction.CREATE, exc)
        raise _Refused(f"{user} may not do this: {exc}", refusal, principal, policy) from None
    except NotFound:
        refusal = Refusal.not_found(OPERATION, AuditAction.CREATE)
        message = "no such patient, visit or discharge in this user's scope"
        raise _Refused(message, refusal, principal, policy) from None
