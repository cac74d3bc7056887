"""The clinical chart: notes, assessments, problems, medications, allergies, results.

Each model maps to one FHIR R4 resource (named in its docstring) and carries the fields
that resource needs, so FHIR and HL7 import/export later round-trips without loss.
Substance-use-disorder records carry ``Sensitivity.PART2`` and psychotherapy notes
``Sensitivity.PSYCHOTHERAPY`` (see :class:`~backend.common.types.Sensitivity`): access
rules read those labels, these models only store them.

Results (observations, reports, imaging, procedures, immunizations, social factors) live
in :mod:`backend.clinical.results` and are re-exported here so ``backend.models`` sees
every table by importing this module.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clinical.common import (
    DICOM_DCM,
    UCUM,
    Annotated,
    EncounterLinked,
    ObservationStatus,
    Severity,
)
from backend.clinical.results import (
    DiagnosticReport,
    ImagingStudy,
    ImagingStudyStatus,
    Immunization,
    ImmunizationStatus,
    Interpretation,
    Observation,
    ObservationCategory,
    Procedure,
    ProcedureStatus,
    ReportCategory,
    ReportStatus,
    SocialDomain,
    SocialFactor,
    SocialFactorSource,
    SocialRisk,
)
from backend.clinical.scoring import Instrument, SeverityBand
from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code
from backend.db import Base

__all__ = [
    "DICOM_DCM",
    "UCUM",
    "Allergy",
    "AllergyCategory",
    "AllergyClinicalStatus",
    "AllergyCriticality",
    "AllergyType",
    "AllergyVerificationStatus",
    "Assessment",
    "AssessmentSource",
    "ClinicalNote",
    "Condition",
    "ConditionCategory",
    "ConditionClinicalStatus",
    "ConditionVerificationStatus",
    "DiagnosticReport",
    "ImagingStudy",
    "ImagingStudyStatus",
    "Immunization",
    "ImmunizationStatus",
    "Instrument",
    "Interpretation",
    "Medication",
    "MedicationIntent",
    "MedicationStatus",
    "NoteKind",
    "NoteStatus",
    "Observation",
    "ObservationCategory",
    "ObservationStatus",
    "Procedure",
    "ProcedureStatus",
    "ReportCategory",
    "ReportStatus",
    "Severity",
    "SeverityBand",
    "SocialDomain",
    "SocialFactor",
    "SocialFactorSource",
    "SocialRisk",
]


# --- Clinical notes -------------------------------------------------------------------


class NoteKind(enum.StrEnum):
    PROGRESS = "progress"
    ASSESSMENT = "assessment"
    PSYCHOTHERAPY = "psychotherapy"  # HIPAA psychotherapy notes: kept apart, see Sensitivity
    DISCHARGE_SUMMARY = "discharge_summary"
    INTAKE = "intake"
    GROUP = "group"
    PHONE = "phone"


class NoteStatus(enum.StrEnum):
    """FHIR DocumentReference.docStatus, plus entered-in-error from its status."""

    DRAFT = "draft"
    SIGNED = "signed"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered_in_error"


class ClinicalNote(EncounterLinked, PatientRecord, Base):
    """A clinician's note. FHIR DocumentReference (Composition when structured).

    ``doc_type`` is the LOINC document type (11506-3 Progress note, 18842-5 Discharge
    summary ...); ``kind`` is our coarser grouping the UI and access rules use. A signed
    note is never edited: an amendment is a new note whose ``amended_from_id`` points at
    the one it replaces (FHIR relatesTo "replaces"), and the old one becomes ``amended``.
    """

    __tablename__ = "clinical_note"
    __extra_table_args__ = (
        Index("ix_clinical_note_patient_id_kind", "patient_id", "kind"),
        # The "notes waiting for my signature" list.
        Index("ix_clinical_note_author_id_status", "author_id", "status"),
    )

    kind: Mapped[NoteKind]
    status: Mapped[NoteStatus] = mapped_column(default=NoteStatus.DRAFT)
    doc_type: Mapped[Code] = coded("doc_type")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(64), default="text/plain")  # MIME
    # When the documented service happened (DocumentReference.context.period).
    period_start: Mapped[datetime | None] = mapped_column(default=None)
    period_end: Mapped[datetime | None] = mapped_column(default=None)
    signed_at: Mapped[datetime | None] = mapped_column(default=None)
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    # Supervisors co-sign notes of interns and associate-licensed clinicians.
    cosigned_at: Mapped[datetime | None] = mapped_column(default=None)
    cosigned_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    amended_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clinical_note.id", ondelete="SET NULL"), default=None, index=True
    )
    amendment_reason: Mapped[str | None] = mapped_column(Text, default=None)

    amended_from: Mapped[ClinicalNote | None] = relationship(
        lazy="raise", remote_side="ClinicalNote.id", foreign_keys=[amended_from_id]
    )


# --- Standardised assessments ---------------------------------------------------------


class AssessmentSource(enum.StrEnum):
    CLINICIAN_ADMINISTERED = "clinician_administered"
    PATIENT_REPORTED = "patient_reported"  # portal, tablet in the waiting room, paper
    IMPORTED = "imported"


class Assessment(EncounterLinked, Annotated, PatientRecord, Base):
    """One administration of a standardised instrument (PHQ-9, GAD-7, AUDIT-C ...).

    FHIR: an Observation of the total score (``code``: PHQ-9 44261-6, GAD-7 70274-6,
    AUDIT-C 75626-2) with the answers as components, derived from a QuestionnaireResponse
    (``items`` holds its ``{linkId, text, answer}`` list). Totals and bands come from
    :mod:`backend.clinical.scoring`. ``effective_at`` is when it was completed.
    """

    __tablename__ = "assessment"
    __extra_table_args__ = (
        Index("ix_assessment_patient_id_instrument", "patient_id", "instrument"),
    )

    instrument: Mapped[Instrument]
    code: Mapped[Code] = coded("code")
    status: Mapped[ObservationStatus] = mapped_column(default=ObservationStatus.FINAL)
    items: Mapped[list[Any]] = mapped_column(default=list)
    total_score: Mapped[int | None] = mapped_column(default=None)
    severity: Mapped[SeverityBand | None] = mapped_column(default=None)
    positive_screen: Mapped[bool | None] = mapped_column(default=None)
    # PHQ-9 item 9 > 0, a positive C-SSRS ...: the same-day follow-up worklist reads this.
    suicide_risk: Mapped[bool] = mapped_column(default=False, index=True)
    source: Mapped[AssessmentSource] = mapped_column(
        default=AssessmentSource.CLINICIAN_ADMINISTERED
    )
    administered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    questionnaire_url: Mapped[str | None] = mapped_column(String(255), default=None)


# --- Problem list and diagnoses -------------------------------------------------------


class ConditionClinicalStatus(enum.StrEnum):
    ACTIVE = "active"
    RECURRENCE = "recurrence"
    RELAPSE = "relapse"
    INACTIVE = "inactive"
    REMISSION = "remission"
    RESOLVED = "resolved"


class ConditionVerificationStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"
    PROVISIONAL = "provisional"
    DIFFERENTIAL = "differential"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    ENTERED_IN_ERROR = "entered_in_error"


class ConditionCategory(enum.StrEnum):
    PROBLEM_LIST_ITEM = "problem_list_item"
    ENCOUNTER_DIAGNOSIS = "encounter_diagnosis"
    HEALTH_CONCERN = "health_concern"


class Condition(EncounterLinked, Annotated, PatientRecord, Base):
    """A diagnosis or problem. FHIR Condition.

    ``code`` is the primary coding (ICD-10-CM for billing); ``alt_code`` a second coding of
    the same concept (usually SNOMED CT), as Condition.code may carry several. Onset and
    abatement are dates, or free text ("childhood") when that is all the source knows.
    """

    __tablename__ = "condition"
    __extra_table_args__ = (
        Index("ix_condition_patient_id_clinical_status", "patient_id", "clinical_status"),
    )

    code: Mapped[Code] = coded("code")
    alt_code: Mapped[Code | None] = coded("alt_code", nullable=True)
    clinical_status: Mapped[ConditionClinicalStatus] = mapped_column(
        default=ConditionClinicalStatus.ACTIVE
    )
    verification_status: Mapped[ConditionVerificationStatus] = mapped_column(
        default=ConditionVerificationStatus.CONFIRMED
    )
    category: Mapped[ConditionCategory] = mapped_column(default=ConditionCategory.PROBLEM_LIST_ITEM)
    severity: Mapped[Severity | None] = mapped_column(default=None)
    onset_date: Mapped[date | None] = mapped_column(default=None)
    onset_text: Mapped[str | None] = mapped_column(String(100), default=None)
    abatement_date: Mapped[date | None] = mapped_column(default=None)
    abatement_text: Mapped[str | None] = mapped_column(String(100), default=None)
    asserter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    # Order of an encounter's diagnoses on a claim (1 = principal); None on the problem list.
    rank: Mapped[int | None] = mapped_column(default=None)
    # Condition.code: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # onsetDateTime / abatementDateTime with their time of day (the *_date columns keep
    # the date for lists). ``effective_at`` is when it was diagnosed (recordedDate).
    onset_at: Mapped[datetime | None] = mapped_column(default=None)
    abatement_at: Mapped[datetime | None] = mapped_column(default=None)


# --- Medications ----------------------------------------------------------------------


class MedicationStatus(enum.StrEnum):
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    DRAFT = "draft"
    ENTERED_IN_ERROR = "entered_in_error"
    UNKNOWN = "unknown"


class MedicationIntent(enum.StrEnum):
    PROPOSAL = "proposal"
    PLAN = "plan"
    ORDER = "order"
    ORIGINAL_ORDER = "original_order"
    REFLEX_ORDER = "reflex_order"
    FILLER_ORDER = "filler_order"
    INSTANCE_ORDER = "instance_order"
    OPTION = "option"


class Medication(EncounterLinked, Annotated, PatientRecord, Base):
    """A medication the patient takes or was prescribed.

    FHIR MedicationRequest when we prescribed it; MedicationStatement when
    ``is_patient_reported`` (the patient or an outside record says they take it). The
    refill columns drive reminders: ``refill_due_on`` is when the current supply runs
    out, and is indexed because the reminder job scans it daily.
    """

    __tablename__ = "medication"
    __extra_table_args__ = (Index("ix_medication_patient_id_status", "patient_id", "status"),)

    code: Mapped[Code] = coded("code")  # RxNorm, ideally the clinical drug (SCD)
    status: Mapped[MedicationStatus] = mapped_column(default=MedicationStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    intent: Mapped[MedicationIntent] = mapped_column(default=MedicationIntent.ORDER)
    is_patient_reported: Mapped[bool] = mapped_column(default=False)
    dosage_text: Mapped[str | None] = mapped_column(String(500), default=None)  # the sig
    dose_quantity: Mapped[Decimal | None] = mapped_column(Numeric(12, 3), default=None)
    dose_unit: Mapped[str | None] = mapped_column(String(32), default=None)  # UCUM
    route: Mapped[str | None] = mapped_column(String(64), default=None)  # oral, sublingual
    frequency: Mapped[str | None] = mapped_column(String(64), default=None)  # once daily, BID
    as_needed: Mapped[bool] = mapped_column(default=False)  # PRN
    start_date: Mapped[date | None] = mapped_column(default=None)
    end_date: Mapped[date | None] = mapped_column(default=None)
    prescriber_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    # DEA schedule (CII-CV) for controlled substances: decides refill and e-prescribing rules.
    dea_schedule: Mapped[str | None] = mapped_column(String(4), default=None)
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(12, 3), default=None)
    quantity_unit: Mapped[str | None] = mapped_column(String(32), default=None)
    days_supply: Mapped[int | None] = mapped_column(default=None)
    refills_allowed: Mapped[int | None] = mapped_column(default=None)
    refills_remaining: Mapped[int | None] = mapped_column(default=None)
    last_filled_on: Mapped[date | None] = mapped_column(default=None)
    refill_due_on: Mapped[date | None] = mapped_column(default=None, index=True)
    substitution_allowed: Mapped[bool] = mapped_column(default=True)
    pharmacy: Mapped[str | None] = mapped_column(String(200), default=None)
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    reason_condition_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("condition.id", ondelete="SET NULL"), default=None, index=True
    )

    # --- FHIR round-trip -----------------------------------------------------------------
    # medication[x] CodeableConcept: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # dosageInstruction[] as FHIR Dosage JSON (timing.repeat, doseAndRate, asNeeded[x],
    # route, method, sequence ...) when the sig is more than the flat columns above hold.
    dosage_instructions: Mapped[list[Any] | None] = mapped_column(default=None)
    # Every reasonReference that is a Condition (ids as strings, in source order); the
    # first is also ``reason_condition_id``.
    reason_condition_ids: Mapped[list[Any] | None] = mapped_column(default=None)

    reason_condition: Mapped[Condition | None] = relationship(lazy="raise")


# --- Allergies and intolerances -------------------------------------------------------


class AllergyType(enum.StrEnum):
    ALLERGY = "allergy"
    INTOLERANCE = "intolerance"


class AllergyCategory(enum.StrEnum):
    FOOD = "food"
    MEDICATION = "medication"
    ENVIRONMENT = "environment"
    BIOLOGIC = "biologic"


class AllergyCriticality(enum.StrEnum):
    LOW = "low"
    HIGH = "high"
    UNABLE_TO_ASSESS = "unable_to_assess"


class AllergyClinicalStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    RESOLVED = "resolved"


class AllergyVerificationStatus(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"
    PRESUMED = "presumed"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    ENTERED_IN_ERROR = "entered_in_error"


class Allergy(EncounterLinked, Annotated, PatientRecord, Base):
    """An allergy or intolerance. FHIR AllergyIntolerance (with its first reaction).

    ``code`` is the substance (RxNorm for drugs, SNOMED CT for foods and environment);
    "no known allergies" is recorded as a row with SNOMED 716186003.
    """

    __tablename__ = "allergy"

    code: Mapped[Code] = coded("code")
    allergy_type: Mapped[AllergyType | None] = mapped_column(default=None)
    category: Mapped[AllergyCategory | None] = mapped_column(default=None)
    criticality: Mapped[AllergyCriticality | None] = mapped_column(default=None)
    clinical_status: Mapped[AllergyClinicalStatus] = mapped_column(
        default=AllergyClinicalStatus.ACTIVE
    )
    verification_status: Mapped[AllergyVerificationStatus] = mapped_column(
        default=AllergyVerificationStatus.CONFIRMED
    )
    reaction_manifestation: Mapped[str | None] = mapped_column(String(255), default=None)
    reaction_manifestation_code: Mapped[Code | None] = coded(
        "manifestation", nullable=True
    )  # SNOMED finding
    reaction_severity: Mapped[Severity | None] = mapped_column(default=None)
    onset_date: Mapped[date | None] = mapped_column(default=None)
    last_occurrence_date: Mapped[date | None] = mapped_column(default=None)
    # AllergyIntolerance.code: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # AllergyIntolerance.reaction[] in full when there is more than the first reaction the
    # reaction_* columns hold (substance, several manifestations, exposureRoute, note).
    reactions: Mapped[list[Any] | None] = mapped_column(default=None)
