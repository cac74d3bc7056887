"""What an alumnus does in the portal: see their program's events, register or cancel.

Events and programs are reference data (field group ``alumni_events``), listed here only
for programs the patient is an active member of. Registering is the capability
``rsvp_alumni_events``; the patient is always the principal's own, so another patient's
registration cannot even be named. An event of a program the patient is not in looks
exactly like an event that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.access.listing import build_view, view_fields
from backend.access.masking import Withheld, mask_plan
from backend.access.models import AuditAction
from backend.access.own_writes import require_own_write
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.scoping import can_see_patient
from backend.access.writes import audit_change, require_capability
from backend.common.errors import Conflict, NotFound
from backend.common.mixins import utcnow
from backend.journey.models import (
    AlumniEvent,
    AlumniEventAttendance,
    AlumniMembership,
    AlumniProgram,
    AttendanceStatus,
    MembershipStatus,
)

RSVP = "rsvp_alumni_events"
EVENTS_AHEAD = timedelta(days=120)
MAX_EVENTS = 50
ATTENDANCE_FIELDS = ["event_id", "membership_id", "status", "registered_at", "cancelled_at"]


@dataclass(frozen=True, slots=True)
class AlumniProgramView:
    id: uuid.UUID
    name: str | None = None
    description: str | None = None
    contact_email: str | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AlumniEventView:
    id: uuid.UUID
    program_id: uuid.UUID | None = None
    title: str | None = None
    description: str | None = None
    kind: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    cancelled_at: datetime | None = None
    withheld: tuple[Withheld, ...] = ()


def active_memberships(session: Session, patient_id: uuid.UUID) -> list[AlumniMembership]:
    return list(
        session.scalars(
            select(AlumniMembership).where(
                AlumniMembership.patient_id == patient_id,
                AlumniMembership.status == MembershipStatus.ACTIVE,
                AlumniMembership.deleted_at.is_(None),
            )
        )
    )


def _programs(session: Session, patient_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """program id -> the patient's active membership id."""
    return {m.program_id: m.id for m in active_memberships(session, patient_id)}


def alumni_programs(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    now: datetime | None = None,
) -> list[AlumniProgramView] | None:
    """The programs the patient is an active member of; None when the patient is not
    in the caller's scope."""
    now = now or utcnow()
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        return None
    ids = list(_programs(session, patient_id))
    rows = session.scalars(
        select(AlumniProgram).where(AlumniProgram.id.in_(ids)).order_by(AlumniProgram.name)
    ).all()
    plan = mask_plan(policy=policy, principal=principal, record_type="AlumniProgram")
    names = view_fields(AlumniProgramView)
    return [
        build_view(AlumniProgramView, plan.mask({n: getattr(r, n) for n in names}), id=r.id)
        for r in rows
    ]


def upcoming_alumni_events(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    now: datetime | None = None,
) -> list[AlumniEventView] | None:
    """The next events (cancelled ones included, marked) of the patient's programs."""
    now = now or utcnow()
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        return None
    ids = list(_programs(session, patient_id))
    rows = session.scalars(
        select(AlumniEvent)
        .where(
            AlumniEvent.program_id.in_(ids),
            AlumniEvent.deleted_at.is_(None),
            AlumniEvent.starts_at >= now,
            AlumniEvent.starts_at <= now + EVENTS_AHEAD,
        )
        .order_by(AlumniEvent.starts_at, AlumniEvent.id)
        .limit(MAX_EVENTS)
    ).all()
    plan = mask_plan(policy=policy, principal=principal, record_type="AlumniEvent")
    names = view_fields(AlumniEventView)
    return [
        build_view(AlumniEventView, plan.mask({n: getattr(r, n) for n in names}), id=r.id)
        for r in rows
    ]


def rsvp_alumni_event(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    event_id: uuid.UUID,
    attend: bool,
    request_id: str | None = None,
    now: datetime | None = None,
) -> AttendanceStatus:
    """Register the signed-in alumnus for an upcoming event of their program (or cancel
    their registration). Repeating the same answer changes nothing."""
    now = now or utcnow()
    require_capability(policy=policy, principal=principal, capability=RSVP)
    patient_id = require_own_write(policy=policy, principal=principal, changes={})
    event = session.scalar(
        select(AlumniEvent).where(AlumniEvent.id == event_id, AlumniEvent.deleted_at.is_(None))
    )
    programs = _programs(session, patient_id)
    if event is None or event.program_id not in programs:
        raise NotFound()
    if event.cancelled_at is not None or event.starts_at <= now:
        raise Conflict("This event is no longer open for registration.")
    row = session.scalar(
        select(AlumniEventAttendance)
        .where(
            AlumniEventAttendance.event_id == event_id,
            AlumniEventAttendance.patient_id == patient_id,
        )
        .with_for_update()
    )
    wanted = AttendanceStatus.REGISTERED if attend else AttendanceStatus.CANCELLED
    if row is not None and row.status in (wanted, AttendanceStatus.ATTENDED):
        return row.status
    if row is None and not attend:
        return AttendanceStatus.CANCELLED  # nothing to cancel
    if attend and event.capacity is not None:
        taken = session.scalar(
            select(func.count())
            .select_from(AlumniEventAttendance)
            .where(
                AlumniEventAttendance.event_id == event_id,
                AlumniEventAttendance.status.in_(
                    [AttendanceStatus.REGISTERED, AttendanceStatus.ATTENDED]
                ),
                AlumniEventAttendance.deleted_at.is_(None),
            )
        )
        if (taken or 0) >= event.capacity:
            raise Conflict("This event is full.")
    action = AuditAction.UPDATE
    if row is None:
        row = AlumniEventAttendance(
            patient_id=patient_id,
            event_id=event_id,
            membership_id=programs[event.program_id],
            effective_at=now,
        )
        session.add(row)
        action = AuditAction.CREATE
    row.status = wanted
    if attend:
        row.registered_at, row.cancelled_at = now, None
    else:
        row.cancelled_at = now
    session.flush()
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=action,
        patient_id=patient_id,
        changes={"AlumniEventAttendance": ATTENDANCE_FIELDS},
        request_id=request_id,
        now=now,
    )
    return wanted
