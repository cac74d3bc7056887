"""Billing types: thin copies of :mod:`backend.billing.records` views."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

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
