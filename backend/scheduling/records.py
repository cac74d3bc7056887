"""Scheduling records handed to transports: frozen views, already masked.

Field names are the ``appointment`` and ``encounter`` tables' columns; the visit reason
(and, on encounters, disposition and note) fields are a separate field group
(``visit_reasons``) that front desk does not read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class AppointmentView:
    id: uuid.UUID
    start_at: datetime | None = None
    end_at: datetime | None = None
    minutes: int | None = None
    status: str | None = None
    appointment_type: str | None = None
    service_type: str | None = None
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    reason_text: str | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    checked_in_at: datetime | None = None
    cancelled_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class EncounterView:
    id: uuid.UUID
    encounter_class: str | None = None
    type_system: str | None = None
    type_code: str | None = None
    type_display: str | None = None
    service_type: str | None = None
    status: str | None = None
    appointment_id: uuid.UUID | None = None
    provider_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    disposition_system: str | None = None
    disposition_code: str | None = None
    disposition_display: str | None = None
    level_of_care: str | None = None
    program: str | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
