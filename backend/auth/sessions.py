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

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.access.principal_cache import forget_after_commit
from backend.auth.models import StaffSession
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


def create_session(
    *,
    session: Session,
    staff_user_id: uuid.UUID,
    address: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """Open a session for a signed-in staff user and return the cookie value to set."""
    now = now or utcnow()
    value = secrets.token_urlsafe(32)
    row = StaffSession(
        id=uuid.uuid4(),
        token_hash=hash_session_token(value),
        staff_user_id=staff_user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
        address=address[:64] if address else None,
    )
    session.add(row)
    session.flush()
    return NewSession(session_id=row.id, cookie_value=value, expires_at=row.expires_at)


def revoke_session(*, session: Session, cookie_value: str, now: datetime | None = None) -> bool:
    """Revoke the session behind a cookie value; True when one was live."""
    result = session.execute(
        update(StaffSession)
        .where(
            StaffSession.token_hash == hash_session_token(cookie_value),
            StaffSession.revoked_at.is_(None),
        )
        .values(revoked_at=now or utcnow())
    )
    forget_after_commit(session)
    return bool(getattr(result, "rowcount", 0))


def revoke_user_sessions(
    *, session: Session, staff_user_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Revoke every live session of a user (password change, deactivation)."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.staff_user_id == staff_user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    forget_after_commit(session)
    return int(getattr(result, "rowcount", 0) or 0)


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
    if not cookie_value or len(cookie_value) > 128:
        return None
    now = now or utcnow()
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_hash == hash_session_token(cookie_value))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.flush()
    return row
