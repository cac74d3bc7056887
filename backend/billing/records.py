"""Billing records handed to transports: frozen views, already masked (column names)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

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
