""" "Who looked at my record": a patient's view of the audit trail about them.

A patient sees when their record was read or changed and in which role, and whether it
was an emergency (break-glass) access; never who by name (capability
``see_record_access_names``, granted to nobody today) and never their own portal visits.
The capability ``see_record_access`` decides who may ask at all; the row scope is the
usual one, so another patient's id answers exactly like an unknown one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal
from backend.access.reads import ReadLog, note_read
from backend.access.scoping import can_see_patient
from backend.common.errors import Forbidden
from backend.common.mixins import utcnow

SEE_ACCESS = "see_record_access"
SEE_NAMES = "see_record_access_names"
SHOWN_ACTIONS = (
    AuditAction.READ,
    AuditAction.CREATE,
    AuditAction.UPDATE,
    AuditAction.DELETE,
    AuditAction.EXPORT,
    AuditAction.BREAK_GLASS,
)
MAX_ENTRIES = 200


class AccessLogForbidden(Forbidden):
    """The caller's roles may not read record-access entries."""


@dataclass(frozen=True, slots=True)
class RecordAccessView:
    """One look at (or change to) the record: when, in which role, what kind."""

    occurred_at: datetime
    roles: tuple[str, ...]
    actor_kind: str
    action: str
    record_types: tuple[str, ...]
    emergency: bool
    actor_name: str | None = None  # only with see_record_access_names


def record_access(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    first: int = 50,
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> list[RecordAccessView] | None:
    """Newest first, at most ``first`` (1..200); None when the patient is not in scope."""
    now = now or utcnow()
    if not principal_may(policy, principal, SEE_ACCESS):
        raise AccessLogForbidden("reading record access needs see_record_access")
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        return None
    limit = max(1, min(first, MAX_ENTRIES))
    rows = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.patient_id == patient_id,
            AuditEvent.action.in_(SHOWN_ACTIONS),
            AuditEvent.outcome == AuditOutcome.SUCCESS,
            # Their own portal visits would drown everyone else's.
            or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != principal.subject_id),
            AuditEvent.actor_kind.is_not(None),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    ).all()
    names = principal_may(policy, principal, SEE_NAMES)
    note_read(
        session=session,
        principal=principal,
        policy=policy,
        log=log,
        patient_id=patient_id,
        record_type="AuditEvent",
        fields=("occurred_at", "roles", "action", "record_types", "break_glass"),
        now=now,
    )
    return [
        RecordAccessView(
            occurred_at=row.occurred_at,
            roles=tuple(str(r) for r in row.roles),
            actor_kind=row.actor_kind or "",
            action=row.action.value,
            record_types=tuple(str(t) for t in row.record_types),
            emergency=row.break_glass,
            actor_name=row.actor_username if names else None,
        )
        for row in rows
    ]
