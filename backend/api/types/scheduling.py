"""Scheduling types: thin copies of :mod:`backend.scheduling.records` views."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.api.types.common import WithheldField


@strawberry.type(description="A booked or requested visit (FHIR Appointment).")
class Appointment:
    id: strawberry.ID
    start_at: datetime | None
    end_at: datetime | None
    minutes: int | None
    status: str | None
    appointment_type: str | None
    service_type: str | None
    provider_id: strawberry.ID | None
    location_id: strawberry.ID | None
    reason_text: str | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
