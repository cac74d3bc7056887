"""Pieces the clinical models share: the encounter link, statuses, code systems."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.types import CodeSystem

DICOM_DCM = CodeSystem.DICOM_DCM
"""DICOM modality codes (CT, MR, US ...), FHIR ImagingStudy.modality's system."""
UCUM = CodeSystem.UCUM
"""Units of measure; ``value_unit`` columns hold UCUM codes (mg/dL, mm[Hg], kg)."""


class EncounterLinked:
    """The visit a record was made in (FHIR ``encounter``), when there was one.

    SET NULL on delete: an encounter entered in error must not take the chart with it.
    """

    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounter.id", ondelete="SET NULL"), default=None, index=True
    )


class Annotated:
    """Free-text comments (FHIR ``note`` / Annotation) on the record."""

    note: Mapped[str | None] = mapped_column(Text, default=None)


class ObservationStatus(enum.StrEnum):
    """FHIR ObservationStatus, shared by observations, assessments and social factors."""

    REGISTERED = "registered"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"
    UNKNOWN = "unknown"


class Severity(enum.StrEnum):
    """FHIR's mild / moderate / severe, for conditions and allergic reactions."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
