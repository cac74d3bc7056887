"""Clinical records handed to transports: frozen views, already masked.

Field names are the tables' columns (the policy's ``<RecordType>.field`` names); every
field but ``id`` is optional because any of them may be withheld. FHIR round-trip JSON
columns (``code_concept``, ``reactions`` ...) stay out of the views: they are for export.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class ConditionView:
    id: uuid.UUID
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    clinical_status: str | None = None
    verification_status: str | None = None
    category: str | None = None
    severity: str | None = None
    onset_date: date | None = None
    abatement_date: date | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class MedicationView:
    id: uuid.UUID
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    status: str | None = None
    status_reason: str | None = None
    intent: str | None = None
    is_patient_reported: bool | None = None
    dosage_text: str | None = None
    dose_quantity: Decimal | None = None
    dose_unit: str | None = None
    route: str | None = None
    frequency: str | None = None
    as_needed: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    prescriber_id: uuid.UUID | None = None
    dea_schedule: str | None = None
    quantity: Decimal | None = None
    quantity_unit: str | None = None
    days_supply: int | None = None
    refills_allowed: int | None = None
    refills_remaining: int | None = None
    last_filled_on: date | None = None
    refill_due_on: date | None = None
    pharmacy: str | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AllergyView:
    id: uuid.UUID
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    allergy_type: str | None = None
    category: str | None = None
    criticality: str | None = None
    clinical_status: str | None = None
    verification_status: str | None = None
    reaction_manifestation: str | None = None
    manifestation_system: str | None = None
    manifestation_code: str | None = None
    manifestation_display: str | None = None
    reaction_severity: str | None = None
    onset_date: date | None = None
    last_occurrence_date: date | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ObservationView:
    """A lab result (an ``observation`` row); components and FHIR JSON stay out."""

    id: uuid.UUID
    category: str | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    status: str | None = None
    value_quantity: Decimal | None = None
    value_unit: str | None = None
    value_text: str | None = None
    value_code_system: str | None = None
    value_code_code: str | None = None
    value_code_display: str | None = None
    reference_low: Decimal | None = None
    reference_high: Decimal | None = None
    reference_text: str | None = None
    interpretation: str | None = None
    is_abnormal: bool | None = None
    specimen: str | None = None
    method: str | None = None
    diagnostic_report_id: uuid.UUID | None = None
    issued_at: datetime | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ClinicalNoteView:
    """A clinical note; psychotherapy notes reach only their author and the treating
    therapist (left out in SQL for everyone else, see :mod:`backend.access.listing`)."""

    id: uuid.UUID
    kind: str | None = None
    status: str | None = None
    doc_type_system: str | None = None
    doc_type_code: str | None = None
    doc_type_display: str | None = None
    title: str | None = None
    body: str | None = None
    content_type: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    signed_at: datetime | None = None
    signed_by_id: uuid.UUID | None = None
    cosigned_at: datetime | None = None
    cosigned_by_id: uuid.UUID | None = None
    amended_from_id: uuid.UUID | None = None
    amendment_reason: str | None = None
    encounter_id: uuid.UUID | None = None
    author_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AssessmentView:
    """One administration of an instrument; the answers (``items``) stay out."""

    id: uuid.UUID
    instrument: str | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    status: str | None = None
    total_score: int | None = None
    severity: str | None = None
    positive_screen: bool | None = None
    suicide_risk: bool | None = None
    source: str | None = None
    administered_by_id: uuid.UUID | None = None
    questionnaire_url: str | None = None
    encounter_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ImagingStudyView:
    id: uuid.UUID
    status: str | None = None
    study_uid: str | None = None
    modality_system: str | None = None
    modality_code: str | None = None
    modality_display: str | None = None
    procedure_system: str | None = None
    procedure_code: str | None = None
    procedure_display: str | None = None
    body_site_system: str | None = None
    body_site_code: str | None = None
    body_site_display: str | None = None
    description: str | None = None
    reason_text: str | None = None
    number_of_series: int | None = None
    number_of_instances: int | None = None
    started_at: datetime | None = None
    referrer_id: uuid.UUID | None = None
    performer_name: str | None = None
    endpoint_url: str | None = None
    diagnostic_report_id: uuid.UUID | None = None
    encounter_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ProcedureView:
    id: uuid.UUID
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    status: str | None = None
    status_reason: str | None = None
    category_system: str | None = None
    category_code: str | None = None
    category_display: str | None = None
    performed_end: datetime | None = None
    performed_text: str | None = None
    performer_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    reason_condition_id: uuid.UUID | None = None
    body_site_system: str | None = None
    body_site_code: str | None = None
    body_site_display: str | None = None
    outcome: str | None = None
    encounter_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ImmunizationView:
    id: uuid.UUID
    vaccine_system: str | None = None
    vaccine_code: str | None = None
    vaccine_display: str | None = None
    status: str | None = None
    status_reason: str | None = None
    primary_source: bool | None = None
    report_origin: str | None = None
    manufacturer: str | None = None
    lot_number: str | None = None
    expiration_date: date | None = None
    site: str | None = None
    route: str | None = None
    dose_quantity: Decimal | None = None
    dose_unit: str | None = None
    dose_number: int | None = None
    series_doses: int | None = None
    performer_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    site_system: str | None = None
    site_code: str | None = None
    site_display: str | None = None
    route_system: str | None = None
    route_code: str | None = None
    route_display: str | None = None
    encounter_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class DiagnosticReportView:
    id: uuid.UUID
    category: str | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    status: str | None = None
    conclusion: str | None = None
    conclusion_system: str | None = None
    conclusion_code: str | None = None
    conclusion_display: str | None = None
    issued_at: datetime | None = None
    performer_id: uuid.UUID | None = None
    performer_name: str | None = None
    ordered_by_id: uuid.UUID | None = None
    accession_number: str | None = None
    presented_form_url: str | None = None
    encounter_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class SocialFactorView:
    id: uuid.UUID
    domain: str | None = None
    risk: str | None = None
    status: str | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    value_text: str | None = None
    value_code_system: str | None = None
    value_code_code: str | None = None
    value_code_display: str | None = None
    source: str | None = None
    instrument: str | None = None
    screened_at: datetime | None = None
    screened_by_id: uuid.UUID | None = None
    resolved_at: datetime | None = None
    encounter_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
