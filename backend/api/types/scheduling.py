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


@strawberry.type(description="A contact in which care was given (FHIR Encounter).")
class Encounter:
    id: strawberry.ID
    encounter_class: str | None
    type_system: str | None
    type_code: str | None
    type_display: str | None
    service_type: str | None
    status: str | None
    appointment_id: strawberry.ID | None
    provider_id: strawberry.ID | None
    location_id: strawberry.ID | None
    period_start: datetime | None
    period_end: datetime | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    disposition_system: str | None
    disposition_code: str | None
    disposition_display: str | None
    level_of_care: str | None
    program: str | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]
