"""Who is calling: a :class:`~backend.access.principal.Principal` from a cookie or a token.

One function for every transport (GraphQL, portal pages, FHIR): it takes the raw inputs
a request carries, not the request, so nothing here depends on Starlette.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.access.breakglass import active_grants
from backend.access.principal import Principal, PrincipalKind
from backend.accounts.models import StaffRoleAssignment, StaffUser
from backend.auth.sessions import IDLE_TIMEOUT, resolve_session
from backend.auth.tokens import (
    InvalidTokenError,
    decode_and_check,
    default_scopes,
    expires_at_from_claims,
)
from backend.common.mixins import utcnow
from backend.organization.models import CareTeam, CareTeamMember
from backend.settings import Settings


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def staff_principal(
    *,
    session: Session,
    staff_user_id: uuid.UUID,
    kind: PrincipalKind = PrincipalKind.STAFF,
    scopes: frozenset[str] = frozenset(),
    session_id: str | None = None,
    token_id: str | None = None,
    client_address: str | None = None,
    credential_expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Principal | None:
    """The principal of an active staff user: roles, care teams, location, break-glass."""
    now = now or utcnow()
    user = session.get(StaffUser, staff_user_id)
    if user is None or not user.active or user.deleted_at is not None:
        return None
    roles = frozenset(
        str(role)
        for role in session.scalars(
            select(StaffRoleAssignment.role).where(
                StaffRoleAssignment.staff_user_id == staff_user_id,
                StaffRoleAssignment.deleted_at.is_(None),
            )
        )
    )
    today = now.date()
    teams = frozenset(
        session.scalars(
            select(CareTeamMember.care_team_id)
            .join(CareTeam, CareTeam.id == CareTeamMember.care_team_id)
            .where(
                CareTeamMember.staff_user_id == staff_user_id,
                CareTeamMember.deleted_at.is_(None),
                or_(CareTeamMember.start_date.is_(None), CareTeamMember.start_date <= today),
                or_(CareTeamMember.end_date.is_(None), CareTeamMember.end_date >= today),
                CareTeam.active.is_(True),
                CareTeam.deleted_at.is_(None),
            )
        )
    )
    # Break-glass grants ride on the principal so row scoping needs no extra query.
    grants = active_grants(session=session, staff_user_id=user.id, now=now)
    return Principal(
        kind=kind,
        subject_id=user.id,
        username=user.username,
        roles=roles,
        care_team_ids=teams,
        location_id=user.location_id,
        scopes=scopes,
        break_glass=grants,
        session_id=session_id,
        token_id=token_id,
        client_address=client_address,
        credential_expires_at=credential_expires_at,
    )


def named_staff_principal(
    *, session: Session, username: str, token_id: str, scopes: frozenset[str] | None = None
) -> Principal | None:
    """The principal an operator command acts as: the active staff user ``username``,
    token-scoped to ``scopes`` (by default what their roles can exercise, as for
    ``patient360 token --user``). None for an unknown or inactive user."""
    staff_id = session.scalar(
        select(StaffUser.id).where(
            StaffUser.username == username,
            StaffUser.deleted_at.is_(None),
            StaffUser.active.is_(True),
        )
    )
    if staff_id is None:
        return None
    principal = staff_principal(session=session, staff_user_id=staff_id, token_id=token_id)
    if principal is None:
        return None
    granted = scopes if scopes is not None else frozenset(default_scopes(principal.roles))
    return dataclasses.replace(principal, scopes=granted)


def resolve_principal(
    *,
    session: Session,
    settings: Settings,
    session_cookie: str | None,
    authorization: str | None,
    client_address: str | None = None,
    now: datetime | None = None,
) -> Principal | None:
    """The caller behind a bearer token or a session cookie; None when unauthenticated.

    A request that presents an Authorization header is judged by it alone: a bad token
    does not fall back to a cookie that may belong to someone else's browser tab.
    """
    now = now or utcnow()
    if authorization is not None:
        token = bearer_token(authorization)
        if token is None:
            return None
        try:
            claims = decode_and_check(session=session, settings=settings, token=token, now=now)
        except InvalidTokenError:
            return None
        try:
            user_id = uuid.UUID(claims["sub"])
        except ValueError:
            return None
        kind = PrincipalKind.CLIENT if "client_id" in claims else PrincipalKind.STAFF
        return staff_principal(
            session=session,
            staff_user_id=user_id,
            kind=kind,
            scopes=frozenset(str(claims.get("scope", "")).split()),
            token_id=str(claims["jti"]),
            client_address=client_address,
            credential_expires_at=expires_at_from_claims(claims),
            now=now,
        )
    if session_cookie:
        row = resolve_session(session=session, cookie_value=session_cookie, now=now)
        if row is None:
            return None
        return staff_principal(
            session=session,
            staff_user_id=row.staff_user_id,
            session_id=str(row.id),
            client_address=client_address,
            credential_expires_at=min(row.expires_at, row.last_seen_at + IDLE_TIMEOUT),
            now=now,
        )
    return None
