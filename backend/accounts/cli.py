"""``patient360 portal invite PATIENT_ID``: an operator makes a portal invite link.

Registered by ``backend/cli.py``. The link is printed once (stdout carries only the
link, so ``LINK=$(patient360 portal invite ...)`` works); only its hash is stored.
The invite is audited with the operator's tool as the actor.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.common.commands import err, fail, settings_or_exit

portal_app = typer.Typer(help="Patient portal accounts.", no_args_is_help=True)


@portal_app.command("invite")
def invite(
    patient_id: Annotated[str, typer.Argument(help="The patient's id (a UUID).")],
) -> None:
    """Print a one-time portal invite link for a patient (valid 72 hours)."""
    from backend.access import audit
    from backend.access.models import AuditAction
    from backend.accounts.invites import InviteError, issue_invite
    from backend.db import make_engine, transaction
    from backend.patients.models import Patient

    try:
        patient = uuid.UUID(patient_id)
    except ValueError:
        raise fail("PATIENT_ID is not a patient id (a UUID)", 2) from None
    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            row = session.get(Patient, patient)
            if row is None or row.deleted_at is not None:
                raise fail("no such patient")
            try:
                made = issue_invite(session=session, patient_id=patient, created_by_id=None)
            except InviteError as exc:
                raise fail(str(exc)) from None
            audit.record(
                session=session,
                principal=None,
                action=AuditAction.CREATE,
                patient_id=patient,
                record_types=["PortalInvite"],
                fields=["PortalInvite.expires_at"],
                actor_username="cli:portal-invite",
                client="cli",
            )
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    print(settings.base_url + made.path)
    err.print(f"expires {made.expires_at.isoformat()}; the link works once")
