"""Columns every record shares: identity, provenance, versioning, sensitivity, soft deletion.

A clinical or engagement model is declared as ``class Condition(PatientRecord, Base)`` and
gets, without repeating them:

* ``id`` (UUID: unguessable, and known before insert so bulk loads can link rows),
* ``patient_id`` and a ``patient`` relationship (``lazy="raise"``: load it on purpose),
* ``source_system`` + ``source_id``, unique together, so every import can upsert,
* ``recorded_at`` (when we learned it), ``effective_at`` (when it happened clinically),
  ``updated_at``, ``author_id`` (the staff user who wrote it, if any),
* ``version`` for optimistic locking (a stale write raises ``StaleDataError``),
* ``sensitivity`` labels (:class:`~backend.common.types.Sensitivity`), ``deleted_at``.

Extra table arguments go in ``__extra_table_args__``; ``__table_args__`` is built here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from backend.common.types import Sensitivity

if TYPE_CHECKING:
    from backend.patients.models import Patient

LOCAL_SOURCE = "patient360"
"""source_system of records created inside patient360 (staff, portal, demo)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_source_id() -> str:
    return uuid.uuid4().hex


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4, sort_order=-100)


class Timestamps:
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=110)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=111)


class Versioned:
    """Optimistic locking: every UPDATE checks and bumps ``version``."""

    version: Mapped[int] = mapped_column(default=1, sort_order=120)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class SoftDelete:
    deleted_at: Mapped[datetime | None] = mapped_column(default=None, sort_order=130)


class Provenance:
    """Where a record came from. (source_system, source_id) is unique per table."""

    source_system: Mapped[str] = mapped_column(String(64), default=LOCAL_SOURCE, sort_order=100)
    source_id: Mapped[str] = mapped_column(String(128), default=new_source_id, sort_order=101)


class Tracked(UUIDPrimaryKey, Provenance, Timestamps, Versioned, SoftDelete):
    """Identity, provenance, timestamps, version and soft deletion; no patient."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        extra = tuple(getattr(cls, "__extra_table_args__", ()))
        return (UniqueConstraint("source_system", "source_id"), *extra)


class PatientRecord(Tracked):
    """A record in one patient's story: everything :class:`Tracked` has, plus the patient,
    the clinical time, the author and sensitivity labels."""

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), sort_order=-90
    )
    effective_at: Mapped[datetime | None] = mapped_column(default=None, sort_order=-80)
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, sort_order=102
    )
    sensitivity: Mapped[Sensitivity] = mapped_column(default=Sensitivity.NONE, sort_order=103)

    @declared_attr
    def patient(cls) -> Mapped[Patient]:
        return relationship("Patient", lazy="raise")

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        extra = tuple(getattr(cls, "__extra_table_args__", ()))
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (
            UniqueConstraint("source_system", "source_id"),
            # Every per-patient list and the timeline read by (patient, time).
            Index(f"ix_{table}_patient_id_effective_at", "patient_id", "effective_at"),
            *extra,
        )
