"""Server-side browser sessions: the cookie carries a random id, the row carries the rest.

A session ends after 30 minutes without a request (idle) or 12 hours after sign-in
(absolute), whichever comes first, or when revoked (logout, rotation, an administrator).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from backend.access.principal_cache import forget_after_commit
from backend.auth.models import PortalSession, StaffSession
from backend.common.mixins import utcnow

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# Writing last_seen_at on every request would turn every read into a write; a minute's
# slack on a 30-minute idle limit is immaterial.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A created session. ``cookie_value`` exists only here and in the browser."""

    session_id: uuid.UUID
    cookie_value: str
    expires_at: datetime


def hash_session_token(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# Staff and portal sessions are separate tables with the same columns and the same
# rules; these helpers take the table and serve both (backend/auth/portal_sessions.py).
SessionRow = TypeVar("SessionRow", StaffSession, PortalSession)


def open_session(
    session: Session,
    model: type[SessionRow],
    *,
    owner: dict[str, uuid.UUID],
    address: str | None,
    now: datetime,
) -> NewSession:
    """Insert a session row of ``model`` for ``owner`` (its owner column and id) and
    return the cookie value to set: it exists only here and in the browser."""
    value = secrets.token_urlsafe(32)
    row = model(
        id=uuid.uuid4(),
        token_hash=hash_session_token(value),
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
        address=address[:64] if address else None,
        **owner,
    )
    session.add(row)
    session.flush()
    return NewSession(session_id=row.id, cookie_value=value, expires_at=row.expires_at)


def revoke_where(
    session: Session, model: type[SessionRow], *where: ColumnElement[bool], now: datetime
) -> int:
    """Revoke the live sessions of ``model`` matching ``where``; how many were live."""
    result = session.execute(
        update(model).where(*where, model.revoked_at.is_(None)).values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def live_session(
    session: Session, model: type[SessionRow], cookie_value: str, now: datetime
) -> SessionRow | None:
    """The live session of ``model`` behind a cookie value, touched as seen (at most
    once a TOUCH_INTERVAL); None when revoked, idle too long or past its absolute end."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    row = session.scalars(
        select(model).where(model.token_hash == hash_session_token(cookie_value))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.flush()
    return row


def create_session(
    *,
    session: Session,
    staff_user_id: uuid.UUID,
    address: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Open a session for a signed-in staff user and return the cookie value to set."""
    return open_session(
        session,
        StaffSession,
        owner={"staff_user_id": staff_user_id},
        address=address,
        now=now or utcnow(),
    )


def revoke_session(*, session: Session, cookie_value: str, now: datetime | None = None) -> bool:
    """Revoke the session behind a cookie value; True when one was live."""
    found = revoke_where(
        session,
        StaffSession,
        StaffSession.token_hash == hash_session_token(cookie_value),
        now=now or utcnow(),
    )
    forget_after_commit(session)
    return bool(found)


def revoke_user_sessions(
    *, session: Session, staff_user_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Revoke every live session of a user (password change, deactivation)."""
    found = revoke_where(
        session, StaffSession, StaffSession.staff_user_id == staff_user_id, now=now or utcnow()
    )
    forget_after_commit(session)
    return found


def rotate_session(
    *,
    session: Session,
    old_cookie_value: str | None,
    staff_user_id: uuid.UUID,
    address: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Replace whatever session the browser had with a new one (no session fixation)."""
    now = now or utcnow()
    if old_cookie_value:
        revoke_session(session=session, cookie_value=old_cookie_value, now=now)
    return create_session(session=session, staff_user_id=staff_user_id, address=address, now=now)


def resolve_session(
    *, session: Session, cookie_value: str, now: datetime | None = None
) -> StaffSession | None:
    """The live session behind a cookie value, touched as seen; None when there is none."""
    return live_session(session, StaffSession, cookie_value, now or utcnow())
