"""Billing records handed to transports: frozen views, already masked (column names)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class CoverageView:
    id: uuid.UUID
    payer_id: uuid.UUID | None = None
    kind: str | None = None
    status: str | None = None
    coverage_order: str | None = None
    plan_name: str | None = None
    member_id: str | None = None
    group_id: str | None = None
    subscriber_relationship: str | None = None
    subscriber_name: str | None = None
    subscriber_birth_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    copay_amount: Decimal | None = None
    coinsurance_percent: int | None = None
    verified_at: datetime | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PriorAuthorizationView:
    id: uuid.UUID
    coverage_id: uuid.UUID | None = None
    service_system: str | None = None
    service_code: str | None = None
    service_display: str | None = None
    level_of_care: str | None = None
    status: str | None = None
    units_requested: int | None = None
    units_approved: int | None = None
    units_used: int | None = None
    unit_type: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    reference_number: str | None = None
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    requested_by_id: uuid.UUID | None = None
    denial_reason: str | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargeView:
    id: uuid.UUID
    encounter_id: uuid.UUID | None = None
    coverage_id: uuid.UUID | None = None
    prior_authorization_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    modifiers: str | None = None
    units: int | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None
    status: str | None = None
    service_date: date | None = None
    place_of_service: str | None = None
    rendering_provider_id: uuid.UUID | None = None
    diagnosis_codes: Any = None
    claim_reference: str | None = None
    claim_status: str | None = None
    allowed_amount: Decimal | None = None
    denial_reason: str | None = None
    claim_item_sequence: int | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class InvoiceView:
    id: uuid.UUID
    number: str | None = None
    status: str | None = None
    coverage_id: uuid.UUID | None = None
    issued_on: date | None = None
    due_on: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    currency: str | None = None
    total: Decimal | None = None
    patient_responsibility: Decimal | None = None
    insurer_responsibility: Decimal | None = None
    balance: Decimal | None = None
    written_off_amount: Decimal | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentView:
    id: uuid.UUID
    invoice_id: uuid.UUID | None = None
    payer_kind: str | None = None
    payer_organization_id: uuid.UUID | None = None
    method: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    received_at: datetime | None = None
    reference: str | None = None
    copay: bool | None = None
    encounter_id: uuid.UUID | None = None
    posted_by_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
