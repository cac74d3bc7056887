"""Operator tasks on credentials: revoke a user's or a client's access, prune dead rows.

Pruning deletes only rows that can no longer grant anything: tokens and sessions past
their expiry (or revoked) for longer than ``keep``, and sign-in attempts older than
``keep`` (throttling looks back 15 minutes). The audit trail is never pruned: sign-ins,
sign-outs and failures are recorded there independently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from backend.access.principal_cache import forget_after_commit
from backend.auth.models import AccessToken, LoginAttempt, OAuthClient, StaffSession
from backend.auth.sessions import revoke_user_sessions
from backend.auth.tokens import revoke_user_tokens
from backend.common.mixins import utcnow

DEFAULT_KEEP = timedelta(days=30)


class UnknownClientError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Revoked:
    tokens: int
    sessions: int


@dataclass(frozen=True, slots=True)
class Pruned:
    tokens: int
    sessions: int
    login_attempts: int


def revoke_user_access(
    *, session: Session, staff_user_id: uuid.UUID, now: datetime | None = None
) -> Revoked:
    """Sign a staff user out everywhere: every live token and browser session."""
    now = now or utcnow()
    return Revoked(
        tokens=revoke_user_tokens(session=session, staff_user_id=staff_user_id, now=now),
        sessions=revoke_user_sessions(session=session, staff_user_id=staff_user_id, now=now),
    )


def revoke_client(*, session: Session, client_id: str, now: datetime | None = None) -> int:
    """Deactivate an API client and revoke its live tokens; the number revoked."""
    now = now or utcnow()
    client = session.scalars(
        select(OAuthClient).where(OAuthClient.client_id == client_id)
    ).one_or_none()
    if client is None:
        raise UnknownClientError(client_id)
    client.active = False
    result = session.execute(
        update(AccessToken)
        .where(
            AccessToken.oauth_client_id == client.id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    forget_after_commit(session)
    return int(getattr(result, "rowcount", 0) or 0)


def prune_expired(
    *, session: Session, keep: timedelta = DEFAULT_KEEP, now: datetime | None = None
) -> Pruned:
    """Delete tokens, sessions and sign-in attempts dead for longer than ``keep``."""
    if keep < timedelta(0):
        raise ValueError("keep must not be negative")
    cutoff = (now or utcnow()) - keep
    tokens = session.execute(
        delete(AccessToken).where(
            or_(AccessToken.expires_at < cutoff, AccessToken.revoked_at < cutoff)
        )
    )
    sessions = session.execute(
        delete(StaffSession).where(
            or_(StaffSession.expires_at < cutoff, StaffSession.revoked_at < cutoff)
        )
    )
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.occurred_at < cutoff))
    return Pruned(
        tokens=int(getattr(tokens, "rowcount", 0) or 0),
        sessions=int(getattr(sessions, "rowcount", 0) or 0),
        login_attempts=int(getattr(attempts, "rowcount", 0) or 0),
    )
