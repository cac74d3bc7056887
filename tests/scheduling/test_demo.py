"""The scheduling demo generator: rows insert cleanly and tell a believable story."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.common.types import Sensitivity
from backend.demo import billing, forms, scheduling
from backend.demo.context import JourneyStage
from backend.scheduling.models import Appointment, AppointmentStatus, Encounter, EncounterStatus
from tests.demo_world import clinic, new_sink, patient, seeded
from tests.tables import table_of


def test_generated_schedule_inserts_and_respects_the_journey(session: Session) -> None:
    ctx, seeds, counts = seeded(session, (scheduling, billing, forms), count=40)
    now = ctx.now
    by_patient: Counter[object] = Counter(session.scalars(select(Appointment.patient_id)).all())
    for seed in seeds:
        appointments = seed.facts["scheduling.appointments"]
        encounters = seed.facts["scheduling.encounters"]
        assert by_patient[seed.id] == len(appointments)
        if seed.stage is JourneyStage.INQUIRY:
            assert len(appointments) <= 1
            assert seed.facts["scheduling.encounters"] == [] or len(encounters) == 1
        else:
            assert 6 <= len(appointments) <= 8
            assert encounters, "a treated patient has been seen at least once (intake)"
            assert encounters[0][1] >= seed.admitted_at
        assert [e[1] for e in encounters] == sorted(e[1] for e in encounters)
    for row in session.scalars(select(Appointment)):
        assert row.recorded_at <= now
        assert row.booked_at is None or row.booked_at <= row.start_at or row.booked_at <= now
        if row.status in (AppointmentStatus.BOOKED, AppointmentStatus.PROPOSED):
            assert row.start_at > now - timedelta(hours=1)
        if row.status in (AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW):
            assert row.end_at <= now
        if row.status is AppointmentStatus.CANCELLED:
            assert row.cancelled_at is not None
            assert row.cancel_reason
            assert row.cancelled_at <= now
        assert (row.video_link is not None) == (row.appointment_type.value == "video")
    finished = session.scalars(
        select(Encounter).where(Encounter.status == EncounterStatus.FINISHED)
    ).all()
    fact_ids = {e[0] for seed in seeds for e in seed.facts["scheduling.encounters"]}
    assert {e.id for e in finished} == fact_ids
    for encounter in finished:
        assert encounter.period_end is not None
        assert encounter.period_end <= now
        assert encounter.appointment_id is not None
    statuses = Counter(session.scalars(select(Appointment.status)).all())
    for wanted in ("completed", "no_show", "cancelled", "booked"):
        assert statuses[AppointmentStatus(wanted)] > 0, statuses
    # Budget: about ten rows per treated patient.
    treated = sum(seed.stage is not JourneyStage.INQUIRY for seed in seeds)
    assert (counts["appointment"] + counts["encounter"]) / treated < 13


def test_substance_use_visits_are_part2(session: Session) -> None:
    _, seeds, _ = seeded(session, (scheduling, billing, forms), count=40)
    part2 = {seed.id for seed in seeds if seed.facts["scheduling.primary_reason"][3]}
    assert part2, "the sample should include alcohol or opioid use disorder"
    rows = session.execute(select(Encounter.patient_id, Encounter.sensitivity)).all()
    for patient_id, sensitivity in rows:
        assert (sensitivity == Sensitivity.PART2) == (patient_id in part2)
    assert session.scalar(select(func.count()).select_from(Encounter)) == len(rows)


def test_generator_is_deterministic() -> None:
    def run() -> list[tuple[object, ...]]:
        sink = new_sink()
        ctx = clinic(sink)
        seed = patient(ctx, sink, 3, JourneyStage.IN_TREATMENT)
        seed.id = seed.id.__class__(int=3)
        scheduling.patient_rows(ctx, seed, sink)
        table = table_of(Appointment)
        return [(r["id"], r["start_at"], r["status"]) for r in sink.rows[table]]

    assert run() == run()
