"""Billing types: thin copies of :mod:`backend.billing.records` views (coverage,
authorizations, charges, invoices, payments)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from backend.api.types.common import WithheldField


@strawberry.type(description="An insurance policy or self-pay arrangement (FHIR Coverage).")
class Coverage:
    id: strawberry.ID
    payer_id: strawberry.ID | None
    kind: str | None
    status: str | None
    coverage_order: str | None
    plan_name: str | None
    member_id: str | None
    group_id: str | None
    subscriber_relationship: str | None
    subscriber_name: str | None
    subscriber_birth_date: date | None
    period_start: date | None
    period_end: date | None
    copay_amount: Decimal | None
    coinsurance_percent: int | None
    verified_at: datetime | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A payer's approval of units of one service for a period.")
class PriorAuthorization:
    id: strawberry.ID
    coverage_id: strawberry.ID | None
    service_system: str | None
    service_code: str | None
    service_display: str | None
    level_of_care: str | None
    status: str | None
    units_requested: int | None
    units_approved: int | None
    units_used: int | None
    unit_type: str | None
    period_start: date | None
    period_end: date | None
    reference_number: str | None
    requested_at: datetime | None
    decided_at: datetime | None
    requested_by_id: strawberry.ID | None
    denial_reason: str | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="One billed service line (FHIR ChargeItem).")
class Charge:
    id: strawberry.ID
    encounter_id: strawberry.ID | None
    coverage_id: strawberry.ID | None
    prior_authorization_id: strawberry.ID | None
    invoice_id: strawberry.ID | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    modifiers: str | None
    units: int | None
    unit_price: Decimal | None
    amount: Decimal | None
    status: str | None
    service_date: date | None
    place_of_service: str | None
    rendering_provider_id: strawberry.ID | None
    diagnosis_codes: JSON | None
    claim_reference: str | None
    claim_status: str | None
    allowed_amount: Decimal | None
    denial_reason: str | None
    claim_item_sequence: int | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A statement of charges (FHIR Invoice).")
class Invoice:
    id: strawberry.ID
    number: str | None
    status: str | None
    coverage_id: strawberry.ID | None
    issued_on: date | None
    due_on: date | None
    period_start: date | None
    period_end: date | None
    currency: str | None
    total: Decimal | None
    patient_responsibility: Decimal | None
    insurer_responsibility: Decimal | None
    balance: Decimal | None
    written_off_amount: Decimal | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="Money received for the patient's care.")
class Payment:
    id: strawberry.ID
    invoice_id: strawberry.ID | None
    payer_kind: str | None
    payer_organization_id: strawberry.ID | None
    method: str | None
    status: str | None
    amount: Decimal | None
    received_at: datetime | None
    reference: str | None
    copay: bool | None
    encounter_id: strawberry.ID | None
    posted_by_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
