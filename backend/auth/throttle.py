"""Sign-in throttling per account and per client address, kept in the database.

Counting rows in ``login_attempt`` (rather than process memory) makes the limits hold
across server processes and restarts. Two attempts racing past the count at the same
instant can each get through, so the limits are exact to within the number of
concurrent requests: good enough against guessing, and no lock is held.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.auth.models import LoginAttempt, LoginOutcomeKind


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    account_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)


DEFAULT_LIMITS = ThrottleLimits()


def account_key(username: str) -> str:
    """The stored form of a typed username: normalised, then hashed."""
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()


def _retry_after(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    if oldest is None:
        return 1
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def _failures_since(
    session: Session, *, column: str, value: str, since: datetime, limit: int
) -> tuple[int, datetime | None]:
    """How many failures since ``since`` and, when at the limit, the time the
    ``limit``-th most recent one happened (the next slot frees up ``window`` after it)."""
    where = (
        getattr(LoginAttempt, column) == value,
        LoginAttempt.outcome == LoginOutcomeKind.FAILURE,
        LoginAttempt.occurred_at > since,
    )
    count = session.scalar(select(func.count()).select_from(LoginAttempt).where(*where)) or 0
    if count < limit:
        return count, None
    oldest_counted = session.scalar(
        select(LoginAttempt.occurred_at)
        .where(*where)
        .order_by(LoginAttempt.occurred_at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return count, oldest_counted


def retry_after_seconds(
    *,
    session: Session,
    username: str,
    address: str,
    now: datetime,
    limits: ThrottleLimits = DEFAULT_LIMITS,
) -> int | None:
    """Seconds until this account and address may try again, or None when allowed now."""
    window_start = now - limits.window
    key = account_key(username)
    # A successful sign-in clears the account's slate (the address keeps its count).
    last_success = session.scalar(
        select(func.max(LoginAttempt.occurred_at)).where(
            LoginAttempt.account_key == key,
            LoginAttempt.outcome == LoginOutcomeKind.SUCCESS,
            LoginAttempt.occurred_at > window_start,
        )
    )
    waits: list[int] = []
    count, oldest = _failures_since(
        session,
        column="account_key",
        value=key,
        since=max(window_start, last_success) if last_success else window_start,
        limit=limits.account_failures,
    )
    if count >= limits.account_failures:
        waits.append(_retry_after(oldest, limits.window, now))
    count, oldest = _failures_since(
        session,
        column="address",
        value=address,
        since=window_start,
        limit=limits.address_failures,
    )
    if count >= limits.address_failures:
        waits.append(_retry_after(oldest, limits.window, now))
    return max(waits) if waits else None


def prune_login_attempts(*, session: Session, before: datetime) -> int:
    """Delete attempts older than ``before`` (they no longer count); returns how many."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.occurred_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
