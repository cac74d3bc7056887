"""Patients sign in to the portal with e-mail and password, and reset a forgotten one.

Sign-in follows the staff flow (:mod:`backend.auth.service`) step for step: a throttle
check and account lookup, the argon2id verification (against a dummy hash when there is
no usable account, so every refusal costs one verification), then the attempt recorded.
Throttle keys are prefixed ``portal:`` so a patient's e-mail and a staff username never
share a budget.

Password reset: a request always gets the same answer; when the address belongs to an
active account a one-time link (1 hour, single use, SHA-256 stored) is made for the
caller to mail. Using it sets the password and signs out every session of the account.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction, AuditOutcome
from backend.accounts.invites import MAX_EMAIL, hash_token, normalise_email
from backend.accounts.models import PortalAccount, PortalAccountStatus
from backend.accounts.passwords import hash_password, needs_rehash
from backend.auth.models import LoginAttempt, LoginOutcomeKind, PasswordResetToken
from backend.auth.portal_sessions import portal_username, revoke_account_sessions
from backend.auth.service import LoginGate, LoginOutcome
from backend.auth.throttle import DEFAULT_LIMITS, ThrottleLimits, account_key, retry_after_seconds
from backend.common.mixins import utcnow

RESET_LIFETIME = timedelta(hours=1)
RESET_PER_ACCOUNT = 3  # links per account per hour: enough for a lost e-mail, not a mailbomb
RESET_PER_ADDRESS = 10
THROTTLE_PREFIX = "portal:"


def _throttle_name(email: str) -> str:
    return THROTTLE_PREFIX + normalise_email(email)


def begin_portal_login(
    *,
    session: Session,
    email: str,
    address: str,
    now: datetime | None = None,
    limits: ThrottleLimits = DEFAULT_LIMITS,
) -> LoginGate:
    """Step one: the throttle, and the account's hash when it may sign in.

    The gate's ``user_id`` is the portal account id; verify with
    :func:`backend.auth.service.check_password` (step two).
    """
    now = now or utcnow()
    name = _throttle_name(email)
    wait = retry_after_seconds(
        session=session, username=name, address=address, now=now, limits=limits
    )
    if wait is not None:
        return LoginGate(name, address, now, wait, None, None)
    account = None
    if 0 < len(normalise_email(email)) <= MAX_EMAIL:
        account = session.scalars(
            select(PortalAccount).where(
                PortalAccount.login_email == normalise_email(email),
                PortalAccount.deleted_at.is_(None),
            )
        ).one_or_none()
    if account is None or account.status is not PortalAccountStatus.ACTIVE:
        return LoginGate(name, address, now, None, None, None)
    return LoginGate(name, address, now, None, account.id, account.password_hash)


def finish_portal_login(
    *, session: Session, gate: LoginGate, password_ok: bool, password: str
) -> LoginOutcome:
    """Step three: record the attempt (and audit it); on success stamp the account."""
    key = account_key(gate.username)
    address = gate.address[:64]
    if gate.retry_after is not None or not password_ok or gate.user_id is None:
        outcome = (
            LoginOutcomeKind.THROTTLED
            if gate.retry_after is not None
            else (LoginOutcomeKind.FAILURE)
        )
        session.add(
            LoginAttempt(occurred_at=gate.now, account_key=key, address=address, outcome=outcome)
        )
        audit.record(
            session=session,
            principal=None,
            action=AuditAction.FAILED_LOGIN,
            outcome=AuditOutcome.DENIED,
            # Only a real account is named: what people type may be someone else's address.
            actor_username=portal_username(gate.user_id) if gate.user_id else "unknown-account",
            client="portal",
            address=address,
            purpose="throttled" if gate.retry_after is not None else None,
            now=gate.now,
        )
        session.flush()
        return LoginOutcome(retry_after=gate.retry_after)
    account = session.get_one(PortalAccount, gate.user_id)
    account.last_login_at = gate.now
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    session.add(
        LoginAttempt(
            occurred_at=gate.now,
            account_key=key,
            address=address,
            outcome=LoginOutcomeKind.SUCCESS,
        )
    )
    audit.record(
        session=session,
        principal=None,
        action=AuditAction.LOGIN,
        patient_id=account.patient_id,
        actor_username=portal_username(account.id),
        client="portal",
        address=address,
        now=gate.now,
    )
    session.flush()
    return LoginOutcome(user_id=account.id)


@dataclass(frozen=True, slots=True)
class ResetLink:
    """A reset link to mail. ``token`` exists only here and in the message."""

    email: str
    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return f"/portal/reset/{self.token}"


def request_password_reset(
    *, session: Session, email: str, address: str, now: datetime | None = None
) -> ResetLink | None:
    """A link to mail when ``email`` is an active account's and within limits, else None.

    The caller answers the same in both cases (and should send the mail off the
    request path, so the answer takes the same time too).
    """
    now = now or utcnow()
    since = now - RESET_LIFETIME
    address = address[:64]
    recent_here = session.scalar(
        select(func.count())
        .select_from(PasswordResetToken)
        .where(PasswordResetToken.address == address, PasswordResetToken.created_at > since)
    )
    if (recent_here or 0) >= RESET_PER_ADDRESS:
        return None
    account = session.scalars(
        select(PortalAccount).where(
            PortalAccount.login_email == normalise_email(email),
            PortalAccount.status == PortalAccountStatus.ACTIVE,
            PortalAccount.deleted_at.is_(None),
        )
    ).one_or_none()
    if account is None:
        return None
    recent = session.scalar(
        select(func.count())
        .select_from(PasswordResetToken)
        .where(
            PasswordResetToken.portal_account_id == account.id,
            PasswordResetToken.created_at > since,
        )
    )
    if (recent or 0) >= RESET_PER_ACCOUNT:
        return None
    token = secrets.token_urlsafe(32)
    row = PasswordResetToken(
        token_hash=hash_token(token),
        portal_account_id=account.id,
        created_at=now,
        expires_at=now + RESET_LIFETIME,
        address=address,
    )
    session.add(row)
    session.flush()
    return ResetLink(email=account.login_email, token=token, expires_at=row.expires_at)


def open_reset(
    *, session: Session, token: str, now: datetime | None = None
) -> PasswordResetToken | None:
    """The live reset token behind a link, or None (unknown, expired or used)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = session.scalars(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(token))
    ).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def reset_password(
    *,
    session: Session,
    token: str,
    password_hash: str,
    address: str,
    now: datetime | None = None,
) -> uuid.UUID | None:
    """Set a new password through a reset link; the account id, or None for a dead link.

    Every session of the account is signed out and every other open link dies with it.
    """
    now = now or utcnow()
    row = open_reset(session=session, token=token, now=now)
    if row is None:
        return None
    claimed = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        return None
    account = session.get_one(PortalAccount, row.portal_account_id)
    account.password_hash = password_hash
    session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.portal_account_id == account.id,
            PasswordResetToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    revoke_account_sessions(session=session, portal_account_id=account.id, now=now)
    audit.record(
        session=session,
        principal=None,
        action=AuditAction.UPDATE,
        patient_id=account.patient_id,
        record_types=["PortalAccount"],
        fields=["PortalAccount.password_hash"],
        actor_username=portal_username(account.id),
        client="portal",
        address=address,
        purpose="password_reset",
        now=now,
    )
    session.flush()
    return account.id
