"""Scheduling use cases for every transport (reads through the shared access path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.scheduling.models import Appointment, Encounter
from backend.scheduling.records import AppointmentView, EncounterView


def list_appointments(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[AppointmentView]] | None:
    """Each patient's appointments, latest first; None when appointments are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Appointment,
        view=AppointmentView,
        patient_ids=patient_ids,
        order_by=(Appointment.start_at.desc(), Appointment.id),
        log=log,
        now=now,
    )


def list_encounters(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[EncounterView]] | None:
    """Each patient's encounters, latest first; None when encounters are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Encounter,
        view=EncounterView,
        patient_ids=patient_ids,
        order_by=(Encounter.period_start.desc(), Encounter.id),
        log=log,
        now=now,
    )
