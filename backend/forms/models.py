"""Patient-reported data: form definitions (questionnaires) and the responses to them.

Questions are data, not code: a :class:`FormDefinition` holds its ordered steps and
questions as JSON (see :mod:`backend.forms.definitions` for the format and the built-in
forms) so clinics can add or revise forms without a release, and the portal renders any
of them. Definitions are immutable once active: a change is a new ``version`` and every
response keeps pointing at the version it answered.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.columns import coded
from backend.common.mixins import PatientRecord, Tracked
from backend.common.types import Code
from backend.db import Base


class FormStatus(enum.StrEnum):
    """FHIR publication-status."""

    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class FormDefinition(Tracked, Base):
    """One version of a form. FHIR Questionnaire (``key`` ~ name, ``url`` its canonical).

    ``(key, form_version)`` is unique. ``schema`` = ``{"steps": [{"id", "title",
    "description", "questions": [...]}]}`` where each question has ``linkId``, ``text``,
    ``type``, ``required``, ``options`` and constraints; the format is documented in
    :mod:`backend.forms.definitions`.
    """

    __tablename__ = "form_definition"
    __extra_table_args__ = (UniqueConstraint("key", "form_version"),)

    key: Mapped[str] = mapped_column(String(64), index=True)
    # The form's own version (Questionnaire.version). Not ``version``: that name is the
    # optimistic-locking counter every Tracked row has.
    form_version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[FormStatus] = mapped_column(default=FormStatus.DRAFT, index=True)
    url: Mapped[str | None] = mapped_column(String(255), default=None)
    # Questionnaire.code: e.g. LOINC 44249-1 for the PHQ-9 panel.
    code: Mapped[Code | None] = coded("code", nullable=True)
    schema: Mapped[dict[str, Any]]
    published_at: Mapped[datetime | None] = mapped_column(default=None)


class ResponseStatus(enum.StrEnum):
    """FHIR questionnaire-answers-status (``stopped`` folded into in_progress)."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered_in_error"


class SubmitterKind(enum.StrEnum):
    """Who filled the form in (FHIR QuestionnaireResponse.source / author)."""

    PATIENT = "patient"
    STAFF = "staff"
    PROXY = "proxy"  # parent, guardian or other authorised representative
    IMPORT = "import"


class FormResponse(PatientRecord, Base):
    """A patient's answers to one form version. FHIR QuestionnaireResponse.

    ``answers`` maps linkId -> value (str, number, bool, ISO date, option code or a list
    of codes for repeating questions). ``changes`` lists what the patient reported that
    differs from the record, e.g. ``{"phone": {"target": "contact_point", "previous":
    "+1617...", "submitted": "+1508..."}}``, for staff to review and apply; it stays None
    when nothing differs. ``scores`` holds computed totals (``{"phq9": 14}``).
    """

    __tablename__ = "form_response"

    definition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("form_definition.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[ResponseStatus] = mapped_column(default=ResponseStatus.IN_PROGRESS, index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_step: Mapped[str | None] = mapped_column(String(64), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    submitted_by: Mapped[SubmitterKind] = mapped_column(default=SubmitterKind.PATIENT)
    submitted_by_staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    proxy_name: Mapped[str | None] = mapped_column(String(200), default=None)
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounter.id", ondelete="SET NULL"), default=None, index=True
    )
    scores: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    changes: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )

    definition: Mapped[FormDefinition] = relationship(lazy="raise")
