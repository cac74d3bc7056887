"""Patients' portal sessions and the principal behind one.

The same rules as staff sessions (:mod:`backend.auth.sessions`): the cookie carries a
random value, the row only its SHA-256; idle timeout 30 minutes, absolute 12 hours; a
new session at every sign-in; revoked at sign-out and when the password changes. The
table is separate so a portal cookie can only ever yield a ``patient`` principal.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.principal import Principal, PrincipalKind
from backend.accounts.models import PortalAccount, PortalAccountStatus
from backend.auth.models import PortalSession
from backend.auth.sessions import (
    ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT,
    NewSession,
    hash_session_token,
    live_session,
    open_session,
    revoke_where,
)
from backend.common.mixins import utcnow
from backend.patients.models import Patient

PATIENT_ROLE = "patient"


def portal_username(account_id: uuid.UUID) -> str:
    """How a portal account is named in the audit trail: never the e-mail address."""
    return f"portal:{account_id.hex}"


def create_portal_session(
    *,
    session: Session,
    portal_account_id: uuid.UUID,
    address: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Open a session for a signed-in patient and return the cookie value to set."""
    return open_session(
        session,
        PortalSession,
        owner={"portal_account_id": portal_account_id},
        address=address,
        now=now or utcnow(),
    )


def revoke_portal_session(
    *, session: Session, cookie_value: str, now: datetime | None = None
) -> bool:
    """Revoke the session behind a cookie value; True when one was live."""
    token_hash = hash_session_token(cookie_value)
    return bool(
        revoke_where(
            session, PortalSession, PortalSession.token_hash == token_hash, now=now or utcnow()
        )
    )


def revoke_account_sessions(
    *, session: Session, portal_account_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Revoke every live session of an account (password reset, account disabled)."""
    return revoke_where(
        session,
        PortalSession,
        PortalSession.portal_account_id == portal_account_id,
        now=now or utcnow(),
    )


def rotate_portal_session(
    *,
    session: Session,
    old_cookie_value: str | None,
    portal_account_id: uuid.UUID,
    address: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Replace whatever session the browser had with a new one (no session fixation)."""
    now = now or utcnow()
    if old_cookie_value:
        revoke_portal_session(session=session, cookie_value=old_cookie_value, now=now)
    return create_portal_session(
        session=session, portal_account_id=portal_account_id, address=address, now=now
    )


def resolve_portal_session(
    *, session: Session, cookie_value: str, now: datetime | None = None
) -> PortalSession | None:
    """The live session behind a cookie value, touched as seen; None when there is none."""
    return live_session(session, PortalSession, cookie_value, now or utcnow())


def patient_principal(
    *,
    session: Session,
    portal_account_id: uuid.UUID,
    session_id: str | None = None,
    client_address: str | None = None,
) -> Principal | None:
    """The principal of an active portal account whose patient is not deleted."""
    row = session.execute(
        select(PortalAccount.id, PortalAccount.patient_id)
        .join(Patient, Patient.id == PortalAccount.patient_id)
        .where(
            PortalAccount.id == portal_account_id,
            PortalAccount.status == PortalAccountStatus.ACTIVE,
            PortalAccount.deleted_at.is_(None),
            Patient.deleted_at.is_(None),
        )
    ).one_or_none()
    if row is None:
        return None
    return Principal(
        kind=PrincipalKind.PATIENT,
        subject_id=row.id,
        username=portal_username(row.id),
        roles=frozenset({PATIENT_ROLE}),
        patient_id=row.patient_id,
        session_id=session_id,
        client_address=client_address,
    )


def resolve_patient_principal(
    *,
    session: Session,
    cookie_value: str | None,
    client_address: str | None = None,
    now: datetime | None = None,
) -> tuple[Principal, PortalSession] | None:
    """The patient signed in behind a portal cookie, with their session; else None."""
    if not cookie_value:
        return None
    row = resolve_portal_session(session=session, cookie_value=cookie_value, now=now)
    if row is None:
        return None
    principal = patient_principal(
        session=session,
        portal_account_id=row.portal_account_id,
        session_id=str(row.id),
        client_address=client_address,
    )
    return None if principal is None else (principal, row)


__all__ = [
    "ABSOLUTE_TIMEOUT",
    "IDLE_TIMEOUT",
    "PATIENT_ROLE",
    "create_portal_session",
    "patient_principal",
    "portal_username",
    "resolve_patient_principal",
    "resolve_portal_session",
    "revoke_account_sessions",
    "revoke_portal_session",
    "rotate_portal_session",
]
