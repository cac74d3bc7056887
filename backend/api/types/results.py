"""Results and other clinical records (imaging, procedures, immunizations, reports,
social factors): thin copies of :mod:`backend.clinical.records` views."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from backend.api.types.common import WithheldField


@strawberry.type(description="A set of images acquired together (FHIR ImagingStudy).")
class ImagingStudy:
    id: strawberry.ID
    status: str | None
    study_uid: str | None
    modality_system: str | None
    modality_code: str | None
    modality_display: str | None
    procedure_system: str | None
    procedure_code: str | None
    procedure_display: str | None
    body_site_system: str | None
    body_site_code: str | None
    body_site_display: str | None
    description: str | None
    reason_text: str | None
    number_of_series: int | None
    number_of_instances: int | None
    started_at: datetime | None
    referrer_id: strawberry.ID | None
    performer_name: str | None
    endpoint_url: str | None
    diagnostic_report_id: strawberry.ID | None
    encounter_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="Something done to or for the patient (FHIR Procedure).")
class Procedure:
    id: strawberry.ID
    code_system: str | None
    code_code: str | None
    code_display: str | None
    status: str | None
    status_reason: str | None
    category_system: str | None
    category_code: str | None
    category_display: str | None
    performed_end: datetime | None
    performed_text: str | None
    performer_id: strawberry.ID | None
    location_id: strawberry.ID | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    reason_condition_id: strawberry.ID | None
    body_site_system: str | None
    body_site_code: str | None
    body_site_display: str | None
    outcome: str | None
    encounter_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A vaccine given, reported or declined (FHIR Immunization).")
class Immunization:
    id: strawberry.ID
    vaccine_system: str | None
    vaccine_code: str | None
    vaccine_display: str | None
    status: str | None
    status_reason: str | None
    primary_source: bool | None
    report_origin: str | None
    manufacturer: str | None
    lot_number: str | None
    expiration_date: date | None
    site: str | None
    route: str | None
    dose_quantity: Decimal | None
    dose_unit: str | None
    dose_number: int | None
    series_doses: int | None
    performer_id: strawberry.ID | None
    location_id: strawberry.ID | None
    site_system: str | None
    site_code: str | None
    site_display: str | None
    route_system: str | None
    route_code: str | None
    route_display: str | None
    encounter_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A lab panel or imaging read as a whole (FHIR DiagnosticReport).")
class DiagnosticReport:
    id: strawberry.ID
    category: str | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    status: str | None
    conclusion: str | None
    conclusion_system: str | None
    conclusion_code: str | None
    conclusion_display: str | None
    issued_at: datetime | None
    performer_id: strawberry.ID | None
    performer_name: str | None
    ordered_by_id: strawberry.ID | None
    accession_number: str | None
    presented_form_url: str | None
    encounter_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A social need or strength in one domain (SDOH).")
class SocialFactor:
    id: strawberry.ID
    domain: str | None
    risk: str | None
    status: str | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    value_text: str | None
    value_code_system: str | None
    value_code_code: str | None
    value_code_display: str | None
    source: str | None
    instrument: str | None
    screened_at: datetime | None
    screened_by_id: strawberry.ID | None
    resolved_at: datetime | None
    encounter_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
