"""Portal invites: staff hand a patient a one-time link; the patient opens an account.

Only the SHA-256 of the token is stored (the token is 256 random bits, so a fast hash
is enough); the link is shown once. An invite expires 72 hours after it is made, works
once, and a newer invite for the same patient revokes the older ones. Redeeming asks for
the birth date on file; wrong guesses are throttled per invite like sign-ins, so a
leaked link cannot be brute-forced against the 36,500 plausible birth dates.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal
from backend.access.scoping import can_see_patient
from backend.accounts.models import PortalAccount, PortalAccountStatus, PortalInvite
from backend.auth.models import LoginAttempt, LoginOutcomeKind
from backend.auth.service import MAX_PASSWORD
from backend.auth.throttle import ThrottleLimits, account_key, retry_after_seconds
from backend.common.errors import Conflict, Forbidden
from backend.common.mixins import utcnow
from backend.patients.models import Patient

INVITE_LIFETIME = timedelta(hours=72)
INVITE_CAPABILITY = "invite_patients"
MIN_PASSWORD = 12
MAX_EMAIL = 254
# Five wrong birth dates per link per 15 minutes, the same budget as a sign-in.
BIRTH_DATE_LIMITS = ThrottleLimits(account_failures=5, address_failures=20)
INVALID_LINK = "This invite link is not valid. It may have expired or been used already."
_EMAIL = re.compile(
    r"^[^@\s<>\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.[A-Za-z]{2,}$"
)


class InviteForbidden(Forbidden):
    """The caller may not invite patients (answered as FORBIDDEN)."""


class InviteError(Conflict):
    """An invite cannot be made (the patient already has an account)."""


@dataclass(frozen=True, slots=True)
class NewInvite:
    """A created invite. ``token`` exists only here and in the link given to the patient."""

    invite_id: uuid.UUID
    patient_id: uuid.UUID
    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return f"/portal/invite/{self.token}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(value: str) -> str:
    return value.strip().lower()


def email_problem(value: str) -> str | None:
    """Why ``value`` is not a usable sign-in e-mail address, or None."""
    if not value:
        return "Enter your e-mail address."
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        return "Enter an e-mail address like name@example.org."
    return None


def password_problem(password: str, *, email: str = "") -> str | None:
    """Why ``password`` may not be used, or None. Length is what matters (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    if email and password.strip().lower() == email:
        return "Do not use your e-mail address as your password."
    return None


def issue_invite(
    *,
    session: Session,
    patient_id: uuid.UUID,
    created_by_id: uuid.UUID | None,
    now: datetime | None = None,
) -> NewInvite:
    """Make an invite for a patient known to exist, revoking their open ones.

    No access check: callers are :func:`create_invite` (which checks) and the operator's
    CLI. Refused when the patient already has a portal account.
    """
    now = now or utcnow()
    has_account = session.scalar(
        select(func.count())
        .select_from(PortalAccount)
        .where(PortalAccount.patient_id == patient_id, PortalAccount.deleted_at.is_(None))
    )
    if has_account:
        raise InviteError("This patient already has a portal account.")
    session.execute(
        update(PortalInvite)
        .where(
            PortalInvite.patient_id == patient_id,
            PortalInvite.used_at.is_(None),
            PortalInvite.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    invite = PortalInvite(
        patient_id=patient_id,
        token_hash=hash_token(token),
        created_by_id=created_by_id,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    session.flush()
    return NewInvite(
        invite_id=invite.id, patient_id=patient_id, token=token, expires_at=invite.expires_at
    )


def create_invite(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    now: datetime | None = None,
) -> NewInvite | None:
    """Staff invite a patient to the portal; None when the patient is not theirs to see."""
    now = now or utcnow()
    if not principal_may(policy, principal, INVITE_CAPABILITY):
        raise InviteForbidden(
            "inviting patients needs the invite_patients capability",
            refused=[f"capability.{INVITE_CAPABILITY}"],
        )
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        return None
    invite = issue_invite(
        session=session, patient_id=patient_id, created_by_id=principal.subject_id, now=now
    )
    audit.record(
        session=session,
        principal=principal,
        action=AuditAction.CREATE,
        patient_id=patient_id,
        record_types=["PortalInvite"],
        fields=["PortalInvite.expires_at"],
        policy_version=policy.version,
        now=now,
    )
    return invite


def open_invite(
    *, session: Session, token: str, now: datetime | None = None
) -> PortalInvite | None:
    """The live invite behind a link, or None (unknown, expired, used or revoked)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    invite = session.scalars(
        select(PortalInvite).where(PortalInvite.token_hash == hash_token(token))
    ).one_or_none()
    if (
        invite is None
        or invite.used_at is not None
        or invite.revoked_at is not None
        or invite.deleted_at is not None
        or invite.expires_at <= now
    ):
        return None
    return invite


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What a redemption produced: the new account, or why not (``field``: which input;
    None for a dead link)."""

    account_id: uuid.UUID | None = None
    error: str | None = None
    field: str | None = None


def redeem_invite(
    *,
    session: Session,
    token: str,
    birth_date: date,
    email: str,
    password_hash: str,
    address: str,
    now: datetime | None = None,
) -> Redeemed:
    """Open the portal account an invite promises.

    ``password_hash`` is made by the caller (argon2 is slow; a web route runs it in a
    worker thread) after :func:`password_problem` accepted the password. A refusal
    writes nothing but, for a wrong birth date, the failed attempt (so commit it: the
    throttle must remember it). Returns rather than raises for that reason.
    """
    now = now or utcnow()
    invite = open_invite(session=session, token=token, now=now)
    if invite is None:
        return Redeemed(error=INVALID_LINK)
    throttle_key = f"invite:{invite.id}"
    wait = retry_after_seconds(
        session=session, username=throttle_key, address=address, now=now, limits=BIRTH_DATE_LIMITS
    )
    if wait is not None:
        minutes = max(1, (wait + 59) // 60)
        return Redeemed(
            error=f"Too many attempts. Try again in {minutes} minutes.", field="birth_date"
        )
    patient = session.get(Patient, invite.patient_id)
    if patient is None or patient.deleted_at is not None:
        return Redeemed(error=INVALID_LINK)
    if patient.birth_date != birth_date:
        session.add(
            LoginAttempt(
                occurred_at=now,
                account_key=account_key(throttle_key),
                address=address[:64],
                outcome=LoginOutcomeKind.FAILURE,
            )
        )
        session.flush()
        return Redeemed(error="The birth date does not match our records.", field="birth_date")
    email = normalise_email(email)
    problem = email_problem(email)
    if problem:
        return Redeemed(error=problem, field="email")
    taken = session.scalar(
        select(func.count()).select_from(PortalAccount).where(PortalAccount.login_email == email)
    )
    if taken:
        return Redeemed(error="Use a different e-mail address.", field="email")
    # Claim the invite first: of two submissions racing, only one updates the row.
    claimed = session.execute(
        update(PortalInvite)
        .where(PortalInvite.id == invite.id, PortalInvite.used_at.is_(None))
        .values(used_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        return Redeemed(error=INVALID_LINK)
    account = PortalAccount(
        patient_id=invite.patient_id,
        login_email=email,
        password_hash=password_hash,
        status=PortalAccountStatus.ACTIVE,
        activated_at=now,
    )
    session.add(account)
    session.flush()
    audit.record(
        session=session,
        principal=None,
        action=AuditAction.CREATE,
        patient_id=invite.patient_id,
        record_types=["PortalAccount"],
        fields=["PortalAccount.login_email", "PortalAccount.password_hash"],
        actor_username=f"portal:{account.id.hex}",
        client="portal",
        address=address,
        now=now,
    )
    return Redeemed(account_id=account.id)
