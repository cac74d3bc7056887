"""Appointments and encounters against real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.accounts.models import StaffRole
from backend.common.types import Code, CodeSystem, LevelOfCare, Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed
from backend.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CancelledBy,
    Encounter,
    EncounterClass,
    EncounterStatus,
    ServiceType,
)
from tests.demo_world import clinic, insert_in_savepoint, new_sink, patient
from tests.tables import table_of


def _world(session: Session) -> tuple[DemoContext, PatientSeed]:

    sink = new_sink()
    ctx = clinic(sink)
    seed = patient(ctx, sink, 1, JourneyStage.IN_TREATMENT)
    sink.flush(session.connection())
    return ctx, seed


def _appointment(ctx: DemoContext, seed: PatientSeed, **overrides: object) -> Appointment:
    start = ctx.now - timedelta(days=3)
    values: dict[str, object] = {
        "patient_id": seed.id,
        "appointment_type": AppointmentType.VIDEO,
        "service_type": ServiceType.THERAPY_INDIVIDUAL,
        "status": AppointmentStatus.COMPLETED,
        "provider_id": ctx.staff[StaffRole.THERAPIST][0],
        "booked_by_id": ctx.staff[StaffRole.FRONT_DESK][0],
        "reason": Code(CodeSystem.ICD10, "F41.1", "Generalized anxiety disorder"),
        "reason_text": "Weekly therapy",
        "start_at": start,
        "end_at": start + timedelta(minutes=53),
        "minutes": 53,
        "effective_at": start,
        "video_link": "https://telehealth.example.org/j/abc",
    }
    values.update(overrides)
    return Appointment(**values)


def test_appointment_with_encounter_round_trips(session: Session) -> None:
    ctx, seed = _world(session)
    appointment = _appointment(ctx, seed)
    session.add(appointment)
    session.flush()
    encounter = Encounter(
        patient_id=seed.id,
        appointment_id=appointment.id,
        encounter_class=EncounterClass.VIRTUAL,
        encounter_type=Code("urn:local", "therapy_individual", "Individual psychotherapy"),
        service_type=ServiceType.THERAPY_INDIVIDUAL,
        status=EncounterStatus.FINISHED,
        provider_id=appointment.provider_id,
        period_start=appointment.start_at,
        period_end=appointment.end_at,
        reason=appointment.reason,
        level_of_care=LevelOfCare.INTENSIVE_OUTPATIENT,
        program="intensive_outpatient",
        sensitivity=Sensitivity.PART2,
    )
    session.add(encounter)
    session.flush()
    session.expunge_all()

    loaded = session.scalars(
        select(Appointment)
        .where(Appointment.id == appointment.id)
        .options(selectinload(Appointment.encounters))
    ).one()
    assert loaded.reason == Code(CodeSystem.ICD10, "F41.1", "Generalized anxiety disorder")
    assert loaded.specialty is None
    assert loaded.start_at == appointment.start_at
    assert loaded.start_at.tzinfo is not None
    assert [e.id for e in loaded.encounters] == [encounter.id]
    enc = loaded.encounters[0]
    assert enc.encounter_class is EncounterClass.VIRTUAL
    assert enc.level_of_care is LevelOfCare.INTENSIVE_OUTPATIENT
    assert enc.sensitivity == Sensitivity.PART2
    assert enc.encounter_type is not None
    assert enc.encounter_type.code == "therapy_individual"


def test_lazy_relationships_raise(session: Session) -> None:
    ctx, seed = _world(session)
    session.add(_appointment(ctx, seed))
    session.flush()
    session.expunge_all()
    loaded = session.scalars(select(Appointment)).first()
    assert loaded is not None
    with pytest.raises(Exception, match="lazy='raise'"):
        _ = loaded.encounters


def test_enum_values_are_stored_as_lowercase_strings(session: Session) -> None:
    ctx, seed = _world(session)
    cancelled = _appointment(
        ctx,
        seed,
        status=AppointmentStatus.NO_SHOW,
        cancelled_by=CancelledBy.PATIENT,
        appointment_type=AppointmentType.IN_PERSON,
    )
    session.add(cancelled)
    session.flush()
    row = session.execute(
        text("SELECT status, appointment_type, service_type, cancelled_by FROM appointment")
    ).one()
    assert tuple(row) == ("no_show", "in_person", "therapy_individual", "patient")
    session.expire_all()
    again = session.get(Appointment, cancelled.id)
    assert again is not None
    assert again.status is AppointmentStatus.NO_SHOW


def test_source_ids_are_unique_per_table(session: Session) -> None:
    ctx, seed = _world(session)
    session.add(_appointment(ctx, seed, source_system="ehr", source_id="A-1"))
    session.flush()
    duplicate = _appointment(ctx, seed, source_system="ehr", source_id="A-1")
    with pytest.raises(IntegrityError):
        insert_in_savepoint(session, duplicate)
    # The same source id from another system is a different record.
    session.add(_appointment(ctx, seed, source_system="crm", source_id="A-1"))
    session.flush()


def test_stale_appointment_update_is_refused(session: Session) -> None:
    ctx, seed = _world(session)
    appointment = _appointment(ctx, seed, status=AppointmentStatus.BOOKED)
    session.add(appointment)
    session.flush()
    assert appointment.version == 1
    # Someone else saves the row in the meantime.
    table = table_of(Appointment)
    session.execute(update(table).where(table.c.id == appointment.id).values(version=2))
    appointment.status = AppointmentStatus.CANCELLED
    with pytest.raises(StaleDataError):
        session.flush()
    session.rollback()
