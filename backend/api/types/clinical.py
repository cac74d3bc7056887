"""Clinical types: thin copies of :mod:`backend.clinical.records` views."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from backend.api.types.common import WithheldField


@strawberry.type(description="A diagnosis or problem (FHIR Condition).")
class Condition:
    id: strawberry.ID
    code_system: str | None
    code_code: str | None
    code_display: str | None
    clinical_status: str | None
    verification_status: str | None
    category: str | None
    severity: str | None
    onset_date: date | None
    abatement_date: date | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(
    description="A medication prescribed or reported (FHIR MedicationRequest / Statement)."
)
class Medication:
    id: strawberry.ID
    code_system: str | None
    code_code: str | None
    code_display: str | None
    status: str | None
    status_reason: str | None
    intent: str | None
    is_patient_reported: bool | None
    dosage_text: str | None
    dose_quantity: Decimal | None
    dose_unit: str | None
    route: str | None
    frequency: str | None
    as_needed: bool | None
    start_date: date | None
    end_date: date | None
    prescriber_id: strawberry.ID | None
    dea_schedule: str | None
    quantity: Decimal | None
    quantity_unit: str | None
    days_supply: int | None
    refills_allowed: int | None
    refills_remaining: int | None
    last_filled_on: date | None
    refill_due_on: date | None
    pharmacy: str | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="An allergy or intolerance (FHIR AllergyIntolerance).")
class Allergy:
    id: strawberry.ID
    code_system: str | None
    code_code: str | None
    code_display: str | None
    allergy_type: str | None
    category: str | None
    criticality: str | None
    clinical_status: str | None
    verification_status: str | None
    reaction_manifestation: str | None
    manifestation_system: str | None
    manifestation_code: str | None
    manifestation_display: str | None
    reaction_severity: str | None
    onset_date: date | None
    last_occurrence_date: date | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(
    description="A measurement or finding (FHIR Observation); labs are category laboratory."
)
class Observation:
    id: strawberry.ID
    category: str | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    status: str | None
    value_quantity: Decimal | None
    value_unit: str | None
    value_text: str | None
    value_code_system: str | None
    value_code_code: str | None
    value_code_display: str | None
    reference_low: Decimal | None
    reference_high: Decimal | None
    reference_text: str | None
    interpretation: str | None
    is_abnormal: bool | None
    specimen: str | None
    method: str | None
    diagnostic_report_id: strawberry.ID | None
    issued_at: datetime | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A clinician's note (FHIR DocumentReference).")
class ClinicalNote:
    id: strawberry.ID
    kind: str | None
    status: str | None
    doc_type_system: str | None
    doc_type_code: str | None
    doc_type_display: str | None
    title: str | None
    body: str | None
    content_type: str | None
    period_start: datetime | None
    period_end: datetime | None
    signed_at: datetime | None
    signed_by_id: strawberry.ID | None
    cosigned_at: datetime | None
    cosigned_by_id: strawberry.ID | None
    amended_from_id: strawberry.ID | None
    amendment_reason: str | None
    encounter_id: strawberry.ID | None
    author_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="One administration of a standardised instrument (PHQ-9, GAD-7 ...).")
class Assessment:
    id: strawberry.ID
    instrument: str | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    status: str | None
    total_score: int | None
    severity: str | None
    positive_screen: bool | None
    suicide_risk: bool | None
    source: str | None
    administered_by_id: strawberry.ID | None
    questionnaire_url: str | None
    encounter_id: strawberry.ID | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]
