"""The audit trail (insert-only, hash-chained) and break-glass grants.

Audit rows name things (record types, field names, ids), never patient data values, so the
trail itself can be shown to auditors without becoming a second copy of the chart. There
are deliberately no foreign keys from the trail: an audit row must outlive the user,
patient or record it mentions, and must never block their deletion or merge.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from backend.common.mixins import UUIDPrimaryKey, utcnow
from backend.db import Base

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first audit row."""


class AuditAction(enum.StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    BREAK_GLASS = "break_glass"
    LOGIN = "login"
    FAILED_LOGIN = "failed_login"


class AuditOutcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"  # the caller lacked a permission (returned as FORBIDDEN)
    NOT_FOUND = "not_found"  # includes out-of-scope patients, which answer "not found"
    CONFLICT = "conflict"
    ERROR = "error"


class AuditEvent(Base):
    """One audited action. Insert-only: ``seq`` orders the chain and ``hash`` covers every
    column below plus ``prev_hash`` (see :mod:`backend.access.audit`)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_patient_id_occurred_at", "patient_id", "occurred_at"),
        Index("ix_audit_event_actor_id_occurred_at", "actor_id", "occurred_at"),
    )

    # Assigned from the chain head, not by the database: gaps then mean deleted rows.
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    actor_username: Mapped[str | None] = mapped_column(String(64), default=None)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[AuditAction]
    outcome: Mapped[AuditOutcome] = mapped_column(default=AuditOutcome.SUCCESS)
    record_types: Mapped[list[Any]] = mapped_column(default=list)
    fields: Mapped[list[Any]] = mapped_column(default=list)  # "Type.field" read or changed
    masked_fields: Mapped[list[Any]] = mapped_column(default=list)  # "Type.field:rule"
    purpose: Mapped[str | None] = mapped_column(String(64), default=None)  # TREAT, HOPERAT ...
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    client: Mapped[str | None] = mapped_column(String(128), default=None)  # client id / app
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    policy_version: Mapped[str | None] = mapped_column(String(64), default=None)
    break_glass: Mapped[bool] = mapped_column(default=False)
    break_glass_grant_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """One row (id=1): the last ``seq`` and ``hash`` of the chain.

    Appending locks this row first (an UPDATE, which is a row lock on PostgreSQL and the
    database write lock on SQLite), so concurrent writers take turns and never fork the
    chain. It also lets ``verify`` notice rows deleted from the end of the chain.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class BreakGlassGrant(UUIDPrimaryKey, Base):
    """Emergency, time-boxed access by one staff member to one patient outside their
    care teams. Every grant is listed for review until an auditor marks it reviewed."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (
        Index("ix_break_glass_grant_staff_user_id_expires_at", "staff_user_id", "expires_at"),
    )

    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="RESTRICT")
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    # Staff's words on why; shown to reviewers only (not copied into the audit trail).
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)


class AuditTrailIsInsertOnly(RuntimeError):
    """Raised when code tries to change or delete an audit event through the ORM."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper: Mapper[Any], _connection: Any, _target: AuditEvent) -> None:
    raise AuditTrailIsInsertOnly("audit events are insert-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper: Mapper[Any], _connection: Any, _target: AuditEvent) -> None:
    raise AuditTrailIsInsertOnly("audit events are insert-only")
