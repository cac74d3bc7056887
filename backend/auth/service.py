"""Staff sign-in with username and password.

Every refusal looks the same to the caller: an unknown username, an inactive account
and a wrong password all verify an argon2id hash (a dummy one when there is no account)
and return the same outcome. Throttling is keyed by the username as typed, so unknown
names are throttled exactly like real ones.

Sign-in is split in three steps so the web route can run the slow argon2 verification
in a worker thread between two short database steps; :func:`authenticate_staff` runs
the same steps in sequence for callers that are already synchronous.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import StaffUser
from backend.accounts.passwords import hash_password, needs_rehash, verify_password
from backend.auth.models import LoginAttempt, LoginOutcomeKind
from backend.auth.throttle import DEFAULT_LIMITS, ThrottleLimits, account_key, retry_after_seconds
from backend.common.mixins import utcnow

MAX_USERNAME = 64
MAX_PASSWORD = 1024  # argon2 accepts more; a megabyte "password" is only a way to burn CPU


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a sign-in attempt produced. Never says which part of the credentials failed."""

    user_id: uuid.UUID | None = None  # set on success only
    retry_after: int | None = None  # seconds; set when throttled only

    @property
    def ok(self) -> bool:
        return self.user_id is not None


@dataclass(frozen=True, slots=True)
class LoginGate:
    """Step one's answer: throttled, or the hash to verify (None: no usable account)."""

    username: str
    address: str
    now: datetime
    retry_after: int | None
    user_id: uuid.UUID | None
    password_hash: str | None


def begin_login(
    *,
    session: Session,
    username: str,
    address: str,
    now: datetime | None = None,
    limits: ThrottleLimits = DEFAULT_LIMITS,
) -> LoginGate:
    """Step one: check the throttle and load the account's hash, if it may sign in."""
    now = now or utcnow()
    wait = retry_after_seconds(
        session=session, username=username, address=address, now=now, limits=limits
    )
    if wait is not None:
        return LoginGate(username, address, now, wait, None, None)
    user = None
    if 0 < len(username.strip()) <= MAX_USERNAME:
        user = session.scalars(
            select(StaffUser).where(
                StaffUser.username == username.strip(), StaffUser.deleted_at.is_(None)
            )
        ).one_or_none()
    if user is None or not user.active or user.password_hash is None:
        return LoginGate(username, address, now, None, None, None)
    return LoginGate(username, address, now, None, user.id, user.password_hash)


def check_password(gate: LoginGate, password: str) -> bool:
    """Step two (slow, no database): verify, taking the same time with or without an account."""
    if gate.retry_after is not None:
        return False
    if len(password) > MAX_PASSWORD:
        verify_password(None, password[:MAX_PASSWORD])  # same cost as any refusal
        return False
    return verify_password(gate.password_hash, password) and gate.user_id is not None


def finish_login(
    *, session: Session, gate: LoginGate, password_ok: bool, password: str
) -> LoginOutcome:
    """Step three: record the attempt; on success stamp the login and upgrade the hash."""
    key = account_key(gate.username)
    address = gate.address[:64]
    if gate.retry_after is not None:
        session.add(
            LoginAttempt(
                occurred_at=gate.now,
                account_key=key,
                address=address,
                outcome=LoginOutcomeKind.THROTTLED,
            )
        )
        session.flush()
        return LoginOutcome(retry_after=gate.retry_after)
    if not password_ok or gate.user_id is None:
        session.add(
            LoginAttempt(
                occurred_at=gate.now,
                account_key=key,
                address=address,
                outcome=LoginOutcomeKind.FAILURE,
            )
        )
        session.flush()
        return LoginOutcome()
    user = session.get_one(StaffUser, gate.user_id)
    user.last_login_at = gate.now
    if user.password_hash is not None and needs_rehash(user.password_hash):
        # Parameters were raised since this hash was made: the only moment we hold the
        # plain password to redo it.
        user.password_hash = hash_password(password)
    session.add(
        LoginAttempt(
            occurred_at=gate.now,
            account_key=key,
            address=address,
            outcome=LoginOutcomeKind.SUCCESS,
            staff_user_id=user.id,
        )
    )
    session.flush()
    return LoginOutcome(user_id=user.id)


def authenticate_staff(
    *,
    session: Session,
    username: str,
    password: str,
    address: str,
    now: datetime | None = None,
    limits: ThrottleLimits = DEFAULT_LIMITS,
) -> LoginOutcome:
    """Check a staff sign-in, throttled per account and address; records the attempt."""
    gate = begin_login(session=session, username=username, address=address, now=now, limits=limits)
    ok = check_password(gate, password)
    return finish_login(session=session, gate=gate, password_ok=ok, password=password)
