"""Links between patient records that may be the same person, and the merges made of them.

The master patient index (built later) writes an :class:`IdentityLink` for every pair it
scores; staff confirm or reject it. Confirming a ``merged_into`` link folds one record into
another and writes a :class:`MergeRecord` listing every row moved, so an unmerge restores
exactly what was there. Nothing here is deleted: undoing sets ``undone_at`` and keeps
the history auditable.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.mixins import Tracked
from backend.db import Base
from backend.patients.models import Patient


class LinkKind(enum.StrEnum):
    MERGED_INTO = "merged_into"  # patient_a was merged into patient_b (b survives)
    POSSIBLE_DUPLICATE = "possible_duplicate"  # the matcher or a person suspects a duplicate
    NOT_DUPLICATE = "not_duplicate"  # a person decided they are different people


class LinkStatus(enum.StrEnum):
    OPEN = "open"  # awaiting a decision
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    UNDONE = "undone"  # a confirmed link (a merge) reversed later


class LinkMethod(enum.StrEnum):
    AUTOMATIC = "automatic"  # probabilistic matcher score
    MANUAL = "manual"  # a staff member linked the records
    RULE = "rule"  # a deterministic rule (same SSN hash and birth date ...)


class IdentityLink(Tracked, Base):
    """A scored or decided relation between two patient records (FHIR Patient.link:
    ``merged_into`` exports as ``replaced-by``/``replaces``, a confirmed duplicate as
    ``seealso``).

    ``match_evidence`` is what the score is made of, per field, so a reviewer sees why:
    ``{"birth_date": {"agreement": "exact", "weight": 3.9}, ...}``. ``not_duplicate``
    links stop the matcher from suggesting the same pair again.
    """

    __tablename__ = "identity_link"
    __extra_table_args__ = (
        CheckConstraint("patient_a_id <> patient_b_id", name="distinct_patients"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 1)", name="score_range"),
        # One open suggestion per ordered pair and kind: the matcher may run again and again.
        Index(
            "uq_identity_link_open_pair",
            "patient_a_id",
            "patient_b_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    patient_a_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    patient_b_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[LinkKind]
    status: Mapped[LinkStatus] = mapped_column(default=LinkStatus.OPEN, index=True)
    score: Mapped[float | None] = mapped_column(Float, default=None)  # 0..1
    match_evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    method: Mapped[LinkMethod] = mapped_column(default=LinkMethod.AUTOMATIC)
    # Which matcher configuration scored it, to re-score when weights change.
    matcher_version: Mapped[str | None] = mapped_column(String(32), default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    undone_at: Mapped[datetime | None] = mapped_column(default=None)
    undone_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    undo_reason: Mapped[str | None] = mapped_column(Text, default=None)

    patient_a: Mapped[Patient] = relationship(lazy="raise", foreign_keys=[patient_a_id])
    patient_b: Mapped[Patient] = relationship(lazy="raise", foreign_keys=[patient_b_id])
    merges: Mapped[list[MergeRecord]] = relationship(lazy="raise", back_populates="link")


class MergeRecord(Tracked, Base):
    """What one merge did (FHIR has no resource for it; AuditEvent records that it happened).

    ``moved_records`` maps table name to the ids of rows re-pointed from the merged patient
    to the survivor: ``{"encounter": ["…"], "condition": [...]}``. ``merged_snapshot`` keeps
    the merged patient's own columns as they were, so an unmerge restores them too.
    """

    __tablename__ = "merge_record"
    __extra_table_args__ = (CheckConstraint("survivor_id <> merged_id", name="distinct_patients"),)

    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("identity_link.id", ondelete="RESTRICT"), index=True
    )
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    merged_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    moved_records: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_at: Mapped[datetime]
    merged_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    unmerged_at: Mapped[datetime | None] = mapped_column(default=None)

    link: Mapped[IdentityLink] = relationship(lazy="raise", back_populates="merges")
    survivor: Mapped[Patient] = relationship(lazy="raise", foreign_keys=[survivor_id])
    merged: Mapped[Patient] = relationship(lazy="raise", foreign_keys=[merged_id])


class MergeRoutedRecord(Base):
    """A record written for a merged patient after the merge and stored on the survivor.

    Writers keep addressing the patient they know (an import matches the merged record's
    MRN, a form names the old id); :mod:`backend.identity.routing` stores the row on the
    survivor and notes here which patient it was addressed to, so an unmerge sends it
    back. Rows addressed to the survivor itself are not noted and stay with it.
    """

    __tablename__ = "merge_routed_record"
    __table_args__ = (Index("ix_merge_routed_record_from_patient_id", "from_patient_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # No foreign key to the row: it lives in any patient-owned table (named here).
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[uuid.UUID]
    from_patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT")
    )
    to_patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"))
    routed_at: Mapped[datetime]
