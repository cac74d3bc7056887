"""Results and history: observations, reports, imaging, procedures, immunizations, SDOH.

Imported through :mod:`backend.clinical.models`; kept apart only to keep modules short.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.clinical.common import Annotated, EncounterLinked, ObservationStatus
from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code
from backend.db import Base

# --- Diagnostic reports ---------------------------------------------------------------


class ReportCategory(enum.StrEnum):
    LAB = "lab"
    IMAGING = "imaging"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    REGISTERED = "registered"
    PARTIAL = "partial"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    AMENDED = "amended"
    CORRECTED = "corrected"
    APPENDED = "appended"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"
    UNKNOWN = "unknown"


class DiagnosticReport(EncounterLinked, PatientRecord, Base):
    """A lab panel or imaging read as a whole. FHIR DiagnosticReport.

    ``code`` is the panel (LOINC 58410-2 CBC, 24323-8 CMP ...); its analytes are
    :class:`Observation` rows pointing here (DiagnosticReport.result). ``effective_at``
    is specimen collection, ``issued_at`` release. ``accession_number`` is the filler's
    order number, which HL7 v2 ORU messages are matched on.
    """

    __tablename__ = "diagnostic_report"

    category: Mapped[ReportCategory] = mapped_column(default=ReportCategory.LAB)
    code: Mapped[Code] = coded("code")
    status: Mapped[ReportStatus] = mapped_column(default=ReportStatus.FINAL)
    conclusion: Mapped[str | None] = mapped_column(Text, default=None)
    conclusion_coding: Mapped[Code | None] = coded("conclusion", nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(default=None)
    performer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    performer_name: Mapped[str | None] = mapped_column(String(200), default=None)  # the lab
    ordered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    accession_number: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    presented_form_url: Mapped[str | None] = mapped_column(String(500), default=None)  # PDF
    # DiagnosticReport.presentedForm[] as FHIR Attachment JSON (contentType, data base64 or
    # url, title, creation): Synthea puts the report text here.
    presented_form: Mapped[list[Any] | None] = mapped_column(default=None)
    # DiagnosticReport.code: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    results: Mapped[list[Observation]] = relationship(lazy="raise", back_populates="report")
    imaging_studies: Mapped[list[ImagingStudy]] = relationship(
        lazy="raise", back_populates="report"
    )


# --- Observations ---------------------------------------------------------------------


class ObservationCategory(enum.StrEnum):
    """FHIR observation-category."""

    LABORATORY = "laboratory"
    VITAL_SIGNS = "vital_signs"
    SOCIAL_HISTORY = "social_history"
    SURVEY = "survey"
    EXAM = "exam"
    IMAGING = "imaging"
    PROCEDURE = "procedure"
    THERAPY = "therapy"
    ACTIVITY = "activity"


class Interpretation(enum.StrEnum):
    """FHIR v3 ObservationInterpretation, the subset clinicians act on (N, L, H, LL, HH, A)."""

    NORMAL = "normal"
    LOW = "low"
    HIGH = "high"
    CRITICAL_LOW = "critical_low"
    CRITICAL_HIGH = "critical_high"
    ABNORMAL = "abnormal"


class Observation(EncounterLinked, Annotated, PatientRecord, Base):
    """One measurement or finding: a lab analyte, a vital sign, a social-history value.
    FHIR Observation.

    The value is one of ``value_quantity`` + ``value_unit`` (UCUM), ``value_code`` (e.g.
    LOINC LA6576-8 Positive) or ``value_text``. Panels measured together (blood pressure)
    keep their parts in ``components``: ``[{code, display, value, unit}]``; an imported
    component may add ``system`` (LOINC when absent), ``text``, ``unit_display`` and, for a
    non-Quantity value, ``value_type`` naming FHIR's ``value[x]`` type.
    ``is_abnormal`` is stored, not derived, so "abnormal results" lists filter cheaply
    and an importer can keep the lab's own flag when there is no reference range.
    """

    __tablename__ = "observation"
    __extra_table_args__ = (Index("ix_observation_patient_id_category", "patient_id", "category"),)

    category: Mapped[ObservationCategory]
    code: Mapped[Code] = coded("code")
    status: Mapped[ObservationStatus] = mapped_column(default=ObservationStatus.FINAL)
    value_quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 4), default=None)
    value_unit: Mapped[str | None] = mapped_column(String(32), default=None)
    value_text: Mapped[str | None] = mapped_column(String(500), default=None)
    value_code: Mapped[Code | None] = coded("value_code", nullable=True)
    components: Mapped[list[Any] | None] = mapped_column(default=None)
    reference_low: Mapped[Decimal | None] = mapped_column(Numeric(14, 4), default=None)
    reference_high: Mapped[Decimal | None] = mapped_column(Numeric(14, 4), default=None)
    reference_text: Mapped[str | None] = mapped_column(String(255), default=None)
    interpretation: Mapped[Interpretation | None] = mapped_column(default=None)
    is_abnormal: Mapped[bool] = mapped_column(default=False)
    specimen: Mapped[str | None] = mapped_column(String(64), default=None)  # blood, urine
    method: Mapped[str | None] = mapped_column(String(100), default=None)  # screen, confirm
    body_site: Mapped[str | None] = mapped_column(String(100), default=None)
    diagnostic_report_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("diagnostic_report.id", ondelete="SET NULL"), default=None, index=True
    )
    performer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    performer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    issued_at: Mapped[datetime | None] = mapped_column(default=None)
    # --- FHIR round-trip -----------------------------------------------------------------
    # Observation.code: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # valueCodeableConcept in full, beside the ``value_code`` Code (same rule as above).
    value_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # value[x] of a type with no column: {"type": "Range" | "Ratio" | "SampledData" |
    # "Period" | "boolean" | "integer" | "time" | "dateTime", "value": <FHIR JSON>}.
    value_other: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # valueQuantity.value exactly as sent when NUMERIC(14,4) would round it (Synthea sends
    # 185.8289545670521); export prefers it to ``value_quantity``.
    value_precise: Mapped[str | None] = mapped_column(String(40), default=None)
    # dataAbsentReason (a Code's JSON) when no value was sent on purpose.
    data_absent_reason: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # hasMember[] / derivedFrom[] as observation ids (strings): panels and scores whose
    # parts are observations of their own rather than components.
    member_ids: Mapped[list[Any] | None] = mapped_column(default=None)
    derived_from_ids: Mapped[list[Any] | None] = mapped_column(default=None)

    report: Mapped[DiagnosticReport | None] = relationship(lazy="raise", back_populates="results")


# --- Imaging --------------------------------------------------------------------------


class ImagingStudyStatus(enum.StrEnum):
    REGISTERED = "registered"
    AVAILABLE = "available"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"
    UNKNOWN = "unknown"


class ImagingStudy(EncounterLinked, Annotated, PatientRecord, Base):
    """A set of DICOM images acquired together. FHIR ImagingStudy.

    ``modality`` is a DICOM code (MR, CT ...; system DICOM_DCM); ``study_uid`` the DICOM
    Study Instance UID the PACS knows it by. The radiologist's read is the linked
    :class:`DiagnosticReport`.
    """

    __tablename__ = "imaging_study"

    status: Mapped[ImagingStudyStatus] = mapped_column(default=ImagingStudyStatus.AVAILABLE)
    study_uid: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    modality: Mapped[Code] = coded("modality")
    procedure: Mapped[Code | None] = coded("procedure", nullable=True)  # CPT / LOINC
    body_site: Mapped[Code | None] = coded("body_site", nullable=True)  # SNOMED CT
    description: Mapped[str | None] = mapped_column(String(255), default=None)
    reason_text: Mapped[str | None] = mapped_column(String(255), default=None)
    number_of_series: Mapped[int | None] = mapped_column(default=None)
    number_of_instances: Mapped[int | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    referrer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    performer_name: Mapped[str | None] = mapped_column(String(200), default=None)  # facility
    endpoint_url: Mapped[str | None] = mapped_column(String(500), default=None)  # WADO-RS
    diagnostic_report_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("diagnostic_report.id", ondelete="SET NULL"), default=None, index=True
    )
    # ImagingStudy.series[] as FHIR JSON (uid, number, modality, bodySite, started,
    # instance[] with uid, sopClass, number): the per-series detail PACS viewers need.
    series: Mapped[list[Any] | None] = mapped_column(default=None)

    report: Mapped[DiagnosticReport | None] = relationship(
        lazy="raise", back_populates="imaging_studies"
    )


# --- Procedures -----------------------------------------------------------------------


class ProcedureStatus(enum.StrEnum):
    PREPARATION = "preparation"
    IN_PROGRESS = "in_progress"
    NOT_DONE = "not_done"
    ON_HOLD = "on_hold"
    STOPPED = "stopped"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered_in_error"
    UNKNOWN = "unknown"


class Procedure(EncounterLinked, Annotated, PatientRecord, Base):
    """Something done to or for the patient: ECT, TMS, an esketamine session, a
    detox protocol, a surgery from an outside history. FHIR Procedure.

    ``effective_at`` is performed start; ``performed_end`` closes performedPeriod.
    """

    __tablename__ = "procedure"

    code: Mapped[Code] = coded("code")  # SNOMED CT or CPT
    status: Mapped[ProcedureStatus] = mapped_column(default=ProcedureStatus.COMPLETED)
    status_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    category: Mapped[Code | None] = coded("category", nullable=True)
    performed_end: Mapped[datetime | None] = mapped_column(default=None)
    performed_text: Mapped[str | None] = mapped_column(String(100), default=None)  # "2015"
    performer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None
    )
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    reason_condition_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("condition.id", ondelete="SET NULL"), default=None, index=True
    )
    body_site: Mapped[Code | None] = coded("body_site", nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(255), default=None)
    # Procedure.code: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``code`` Code holds (more codings, its own text).
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)


# --- Immunizations --------------------------------------------------------------------


class ImmunizationStatus(enum.StrEnum):
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered_in_error"
    NOT_DONE = "not_done"


class Immunization(EncounterLinked, Annotated, PatientRecord, Base):
    """A vaccine given, reported or declined. FHIR Immunization (``vaccine``: CVX).

    ``effective_at`` is occurrenceDateTime. ``primary_source`` False means the dose is
    known from the patient or another provider (``report_origin`` says which).
    """

    __tablename__ = "immunization"

    vaccine: Mapped[Code] = coded("vaccine")
    status: Mapped[ImmunizationStatus] = mapped_column(default=ImmunizationStatus.COMPLETED)
    status_reason: Mapped[str | None] = mapped_column(String(255), default=None)  # refusal
    primary_source: Mapped[bool] = mapped_column(default=True)
    report_origin: Mapped[str | None] = mapped_column(String(100), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(200), default=None)
    lot_number: Mapped[str | None] = mapped_column(String(64), default=None)
    expiration_date: Mapped[date | None] = mapped_column(default=None)
    site: Mapped[str | None] = mapped_column(String(64), default=None)  # left deltoid
    route: Mapped[str | None] = mapped_column(String(64), default=None)  # intramuscular
    dose_quantity: Mapped[Decimal | None] = mapped_column(Numeric(12, 3), default=None)
    dose_unit: Mapped[str | None] = mapped_column(String(32), default=None)
    dose_number: Mapped[int | None] = mapped_column(default=None)  # protocolApplied
    series_doses: Mapped[int | None] = mapped_column(default=None)
    performer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None
    )
    # Immunization.vaccineCode: the full CodeableConcept ({"coding": [...], "text"}) when the
    # source sent more than the primary ``vaccine`` Code holds (more codings, its own text).
    vaccine_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # site and route as Codings (v3-ActSite LA, v3-RouteOfAdministration IM); the text
    # columns ``site`` / ``route`` keep what a person reads.
    site_coding: Mapped[Code | None] = coded("site", nullable=True)
    route_coding: Mapped[Code | None] = coded("route", nullable=True)


# --- Social determinants of health ----------------------------------------------------


class SocialDomain(enum.StrEnum):
    HOUSING = "housing"
    FOOD = "food"
    TRANSPORT = "transport"
    EMPLOYMENT = "employment"
    SUPPORT = "support"  # social isolation, family and peer support
    SAFETY = "safety"  # interpersonal violence, unsafe home
    FINANCES = "finances"
    UTILITIES = "utilities"
    EDUCATION = "education"
    LEGAL = "legal"  # court involvement, probation
    OTHER = "other"


class SocialRisk(enum.StrEnum):
    NO_RISK = "no_risk"
    AT_RISK = "at_risk"
    HIGH_RISK = "high_risk"
    UNKNOWN = "unknown"


class SocialFactorSource(enum.StrEnum):
    PATIENT_REPORTED = "patient_reported"
    STAFF_OBSERVED = "staff_observed"
    SCREENING_TOOL = "screening_tool"
    IMPORTED = "imported"


class SocialFactor(EncounterLinked, Annotated, PatientRecord, Base):
    """A social need or strength in one domain. FHIR Observation (category social-history,
    US Core SDOH assessment), e.g. LOINC 71802-3 Housing status.

    Kept apart from :class:`Observation` because care coordinators work these as a list
    of needs by domain and risk, not as results. ``value_code`` is the LOINC answer (LA
    code) when a screening tool (``instrument``: PRAPARE, AHC HRSN) gave one.
    """

    __tablename__ = "social_factor"
    __extra_table_args__ = (
        Index("ix_social_factor_patient_id_domain", "patient_id", "domain"),
        Index("ix_social_factor_domain_risk", "domain", "risk"),
    )

    domain: Mapped[SocialDomain]
    risk: Mapped[SocialRisk] = mapped_column(default=SocialRisk.UNKNOWN)
    status: Mapped[ObservationStatus] = mapped_column(default=ObservationStatus.FINAL)
    code: Mapped[Code] = coded("code")
    value_text: Mapped[str | None] = mapped_column(String(500), default=None)
    value_code: Mapped[Code | None] = coded("value_code", nullable=True)
    source: Mapped[SocialFactorSource] = mapped_column(default=SocialFactorSource.SCREENING_TOOL)
    instrument: Mapped[str | None] = mapped_column(String(64), default=None)
    screened_at: Mapped[datetime | None] = mapped_column(default=None)
    screened_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    # When the need was met or no longer applies; None while it is open.
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
