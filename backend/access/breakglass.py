"""Break-glass: time-boxed emergency access to a patient outside the caller's care teams.

A grant needs the ``break_glass`` capability (clinicians, per policy.csv) and a reason;
it lasts 60 minutes, is written to the audit trail as a ``break_glass`` event, flags
every audit row written under it, and stays on the review list until an auditor
(``review_break_glass``) marks it reviewed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction, BreakGlassGrant
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import BreakGlassGrant as GrantRef
from backend.access.principal import Principal, PrincipalKind
from backend.access.principal_cache import forget_after_commit
from backend.common.errors import Forbidden, InvalidInput, NotFound
from backend.patients.models import Patient

BREAK_GLASS_CAPABILITY = "break_glass"
REVIEW_CAPABILITY = "review_break_glass"
DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MIN_REASON = 10
MAX_REASON = 2000
MAX_REVIEW_NOTE = 2000


class BreakGlassForbidden(Forbidden):
    """The caller may not break the glass (or review grants): answered as FORBIDDEN."""


class BreakGlassInputError(InvalidInput):
    """A missing or unusable reason or duration: answered as BAD_USER_INPUT."""


class BreakGlassNotFound(NotFound):
    """No such patient (or grant): answered as NOT_FOUND."""


def grant_break_glass(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    reason: str,
    minutes: int = DEFAULT_MINUTES,
    request_id: str | None = None,
    now: datetime | None = None,
) -> BreakGlassGrant:
    """Grant ``principal`` access to one patient for ``minutes`` and audit it."""
    if principal.kind is not PrincipalKind.STAFF or not principal_may(
        policy, principal, BREAK_GLASS_CAPABILITY
    ):
        raise BreakGlassForbidden(
            "break-glass is not available to this account",
            refused=[f"capability.{BREAK_GLASS_CAPABILITY}"],
        )
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise BreakGlassInputError("reason", f"needs {MIN_REASON} to {MAX_REASON} characters")
    if not 1 <= minutes <= MAX_MINUTES:
        raise BreakGlassInputError("minutes", f"break-glass lasts 1 to {MAX_MINUTES} minutes")
    exists = session.execute(
        select(Patient.id).where(Patient.id == patient_id, Patient.deleted_at.is_(None))
    ).first()
    if exists is None:
        raise BreakGlassNotFound()
    when = now or datetime.now(UTC)
    grant = BreakGlassGrant(
        id=uuid.uuid4(),
        staff_user_id=principal.subject_id,
        patient_id=patient_id,
        reason=reason,
        granted_at=when,
        expires_at=when + timedelta(minutes=minutes),
    )
    session.add(grant)
    session.flush()
    forget_after_commit(session)  # the grant rides on the principal: re-resolve it
    audit.record(
        session=session,
        principal=principal,
        action=AuditAction.BREAK_GLASS,
        patient_id=patient_id,
        record_types=["BreakGlassGrant"],
        break_glass=True,
        break_glass_grant_id=grant.id,
        policy_version=policy.version,
        request_id=request_id,
        now=when,
    )
    return grant


def active_grants(
    *, session: Session, staff_user_id: uuid.UUID, now: datetime
) -> tuple[GrantRef, ...]:
    """The caller's unexpired, unrevoked grants, for the authentication layer to put on
    the :class:`Principal` it builds for each request."""
    rows = session.execute(
        select(BreakGlassGrant.patient_id, BreakGlassGrant.expires_at, BreakGlassGrant.id)
        .where(
            BreakGlassGrant.staff_user_id == staff_user_id,
            BreakGlassGrant.expires_at > now,
            BreakGlassGrant.revoked_at.is_(None),
        )
        .order_by(BreakGlassGrant.expires_at)
    ).all()
    return tuple(GrantRef(patient_id=p, expires_at=e, grant_id=i) for p, e, i in rows)


def _require_reviewer(principal: Principal, policy: CompiledPolicy) -> None:
    if principal.kind is not PrincipalKind.STAFF or not principal_may(
        policy, principal, REVIEW_CAPABILITY
    ):
        raise BreakGlassForbidden(
            "reviewing break-glass grants is not available to this account",
            refused=[f"capability.{REVIEW_CAPABILITY}"],
        )


def grants_for_review(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    unreviewed_only: bool = True,
    limit: int = 100,
) -> list[BreakGlassGrant]:
    """Grants for auditors to review, oldest first."""
    _require_reviewer(principal, policy)
    query = select(BreakGlassGrant).order_by(BreakGlassGrant.granted_at, BreakGlassGrant.id)
    if unreviewed_only:
        query = query.where(BreakGlassGrant.reviewed_at.is_(None))
    return list(session.execute(query.limit(min(limit, 500))).scalars())


def mark_reviewed(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    grant_id: uuid.UUID,
    note: str | None = None,
    now: datetime | None = None,
) -> BreakGlassGrant:
    """Record that an auditor reviewed a grant."""
    _require_reviewer(principal, policy)
    if note is not None and len(note) > MAX_REVIEW_NOTE:
        raise BreakGlassInputError("note", f"is limited to {MAX_REVIEW_NOTE} characters")
    grant = session.get(BreakGlassGrant, grant_id)
    if grant is None:
        raise BreakGlassNotFound()
    grant.reviewed_by_id = principal.subject_id
    grant.reviewed_at = now or datetime.now(UTC)
    grant.review_note = note
    session.flush()
    return grant
