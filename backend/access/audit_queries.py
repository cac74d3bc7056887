"""Auditors' reads of the audit trail and of break-glass grants, for every transport.

The trail is filtered by patient, actor (username or id) and period and paged newest
first by ``seq`` (opaque cursors). Who may read it is the policy's business: the
``AuditEvent`` fields are in the ``audit_trail`` group, which only auditors hold, so a
caller whose roles read no field of the type is refused (FORBIDDEN, not an empty page:
the caller must learn the request is not theirs to make). Reading the trail is itself
audited, refusals included.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.breakglass import grants_for_review, mark_reviewed
from backend.access.listing import build_view, view_fields
from backend.access.masking import MaskPlan, Withheld, mask_plan
from backend.access.models import AuditAction, AuditEvent, AuditOutcome, BreakGlassGrant
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal, PrincipalKind
from backend.access.reads import ReadLog, note_read
from backend.common.errors import Forbidden, InvalidInput
from backend.common.mixins import utcnow

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
_CURSOR_PREFIX = b"audit:"


class AuditQueryForbidden(Forbidden):
    """The caller may not read the audit trail: answered as FORBIDDEN."""


class AuditQueryInputError(InvalidInput):
    """A bad page size, cursor or period: answered as BAD_USER_INPUT."""


@dataclass(frozen=True, slots=True)
class AuditEventView:
    """One audit row as the caller may see it (names and ids only, never values)."""

    id: uuid.UUID
    seq: int | None = None
    occurred_at: datetime | None = None
    actor_id: uuid.UUID | None = None
    actor_kind: str | None = None
    actor_username: str | None = None
    roles: list[Any] | None = None
    patient_id: uuid.UUID | None = None
    action: str | None = None
    outcome: str | None = None
    record_types: list[Any] | None = None
    fields: list[Any] | None = None
    masked_fields: list[Any] | None = None
    purpose: str | None = None
    request_id: str | None = None
    client: str | None = None
    address: str | None = None
    policy_version: str | None = None
    break_glass: bool | None = None
    break_glass_grant_id: uuid.UUID | None = None
    hash: str | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditEventPage:
    events: tuple[AuditEventView, ...]
    cursors: tuple[str, ...]
    has_next_page: bool
    has_previous_page: bool


@dataclass(frozen=True, slots=True)
class BreakGlassGrantView:
    id: uuid.UUID
    staff_user_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    reason: str | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    reviewed_by_id: uuid.UUID | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None
    withheld: tuple[Withheld, ...] = ()


EVENT_FIELDS = view_fields(AuditEventView)
GRANT_FIELDS = view_fields(BreakGlassGrantView)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + str(seq).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError
        seq = int(raw[len(_CURSOR_PREFIX) :].decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise AuditQueryInputError("after", "invalid cursor") from None
    if seq < 1:
        raise AuditQueryInputError("after", "invalid cursor")
    return seq


def _utc(value: datetime | None) -> datetime | None:
    # Clients may send naive times; the trail is stored in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _plan_or_refuse(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    record_type: str,
    log: ReadLog | None,
    patient_id: uuid.UUID | None,
    now: datetime,
) -> MaskPlan:
    plan = mask_plan(policy=policy, principal=principal, record_type=record_type)
    if principal.kind is PrincipalKind.STAFF and not plan.sees_nothing:
        return plan
    # Refusals are audited too: someone probing the trail is what auditors look for.
    note_read(
        session=session,
        principal=principal,
        policy=policy,
        log=log,
        patient_id=patient_id,
        record_type=record_type,
        outcome=AuditOutcome.DENIED,
        now=now,
    )
    raise AuditQueryForbidden("the audit trail is not available to this account")


def list_audit_events(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID | None = None,
    actor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> AuditEventPage:
    """Audit events, newest first, filtered by patient, actor (username or id) and the
    period ``start <= occurred_at < end``; at most :data:`MAX_PAGE_SIZE` a page."""
    now = now or utcnow()
    plan = _plan_or_refuse(
        session=session,
        principal=principal,
        policy=policy,
        record_type="AuditEvent",
        log=log,
        patient_id=patient_id,
        now=now,
    )
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise AuditQueryInputError("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and end <= start:
        raise AuditQueryInputError("to", "the period must end after it starts (to > from)")
    table = AuditEvent.__table__
    query = select(*(table.c[n] for n in EVENT_FIELDS))
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    if actor:
        try:
            query = query.where(table.c.actor_id == uuid.UUID(actor))
        except ValueError:
            query = query.where(table.c.actor_username == actor.strip())
    if start is not None:
        query = query.where(table.c.occurred_at >= start)
    if end is not None:
        query = query.where(table.c.occurred_at < end)
    if after is not None:
        query = query.where(table.c.seq < decode_cursor(after))
    rows = session.execute(query.order_by(table.c.seq.desc()).limit(first + 1)).mappings().all()
    page = rows[:first]
    views = tuple(build_view(AuditEventView, plan.mask(dict(r)), id=r["id"]) for r in page)
    note_read(
        session=session,
        principal=principal,
        policy=policy,
        log=log,
        patient_id=patient_id,
        record_type="AuditEvent",
        fields=plan.allowed & set(EVENT_FIELDS),
        now=now,
    )
    return AuditEventPage(
        events=views,
        cursors=tuple(encode_cursor(r["seq"]) for r in page),
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
    )


def _grant_view(plan: MaskPlan, grant: BreakGlassGrant) -> BreakGlassGrantView:
    record = {name: getattr(grant, name) for name in GRANT_FIELDS}
    return build_view(BreakGlassGrantView, plan.mask(record), id=grant.id)


def review_list(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    unreviewed_only: bool = True,
    first: int = 100,
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> list[BreakGlassGrantView]:
    """Break-glass grants for review, oldest first, masked like any other record.

    :func:`~backend.access.breakglass.grants_for_review` checks the review capability;
    the read is noted per patient the grants name (the reasons mention patients).
    """
    now = now or utcnow()
    if not 1 <= first <= 500:
        raise AuditQueryInputError("first", "must be between 1 and 500")
    plan = mask_plan(policy=policy, principal=principal, record_type="BreakGlassGrant")
    grants = grants_for_review(
        session=session,
        principal=principal,
        policy=policy,
        unreviewed_only=unreviewed_only,
        limit=first,
    )
    views = [_grant_view(plan, g) for g in grants]
    target = log if log is not None else ReadLog()
    for grant in grants:
        target.note(
            patient_id=grant.patient_id,
            record_type="BreakGlassGrant",
            fields=plan.allowed & set(GRANT_FIELDS),
        )
    if log is None and grants:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return views


def grant_view(
    *, policy: CompiledPolicy, principal: Principal, grant: BreakGlassGrant
) -> BreakGlassGrantView:
    """One grant as ``principal`` may see it (after marking it reviewed, say)."""
    return _grant_view(
        mask_plan(policy=policy, principal=principal, record_type="BreakGlassGrant"), grant
    )


def review_grant(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    grant_id: uuid.UUID,
    note: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> BreakGlassGrantView:
    """Mark a grant reviewed (an audited update) and return it as the reviewer sees it."""
    now = now or utcnow()
    grant = mark_reviewed(
        session=session, principal=principal, policy=policy, grant_id=grant_id, note=note, now=now
    )
    audit.record(
        session=session,
        principal=principal,
        action=AuditAction.UPDATE,
        patient_id=grant.patient_id,
        record_types=["BreakGlassGrant"],
        fields=[f"BreakGlassGrant.{f}" for f in ("reviewed_by_id", "reviewed_at", "review_note")],
        policy_version=policy.version,
        request_id=request_id,
        # A review is not itself emergency access, even by someone holding a grant.
        break_glass=False,
        now=now,
    )
    return grant_view(policy=policy, principal=principal, grant=grant)
