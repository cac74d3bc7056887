"""The journey demo generator writes rows that insert cleanly and follow each journey."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.common.types import Sensitivity
from backend.demo import journey
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, demo_now
from backend.demo.sink import RowSink
from backend.journey.models import (
    Admission,
    AdmissionStatus,
    AlumniCheckIn,
    AlumniEvent,
    AlumniMembership,
    AlumniProgram,
    Discharge,
    Inquiry,
    InquiryOutcome,
    ReferralSource,
)
from tests.demo_world import clinic, new_sink, patient
from tests.tables import table_of

TODAY = date(2026, 3, 2)
NOW = demo_now(TODAY)
PER_STAGE = 6
INQUIRY = table_of(Inquiry)


def _seed(sink: RowSink) -> tuple[DemoContext, list[PatientSeed], Counter[str]]:
    ctx = clinic(sink, today=TODAY, seed=7, generators=(journey,))
    seeds: list[PatientSeed] = []
    rows: Counter[str] = Counter()
    for n, stage in enumerate(s for s in JourneyStage for _ in range(PER_STAGE)):
        # First contact 400 - n days ago, admitted 5 days later, discharged 70 days after.
        seed = patient(ctx, sink, n, stage, timeline=(400 - n, 395 - n, 330 - n))
        before = sink.count()
        journey.patient_rows(ctx, seed, sink)
        rows[stage.value] += sink.count() - before
        seeds.append(seed)
    return ctx, seeds, rows


def test_generated_journeys_insert_and_follow_the_stage(session: Session) -> None:
    sink = new_sink(3, today=TODAY)
    _ctx, seeds, rows = _seed(sink)
    sink.flush(session.connection())

    assert session.scalar(select(func.count()).select_from(ReferralSource)) == 20
    assert session.scalar(select(func.count()).select_from(AlumniProgram)) == 2
    assert session.scalar(select(func.count()).select_from(AlumniEvent)) == 20
    for seed in seeds:
        inquiry = session.get(Inquiry, seed.facts["journey.inquiry_id"])
        assert inquiry is not None
        assert inquiry.inquiry_at == seed.first_contact_at
        admissions = session.scalars(select(Admission).where(Admission.patient_id == seed.id)).all()
        discharge_id = seed.facts["journey.discharge_id"]
        if seed.stage is JourneyStage.INQUIRY:
            assert inquiry.outcome is not InquiryOutcome.ADMITTED
            assert admissions == []
            assert discharge_id is None
            continue
        assert inquiry.outcome is InquiryOutcome.ADMITTED
        assert inquiry.admitted_at == seed.admitted_at
        assert inquiry.first_response_at is not None
        assert inquiry.admitted_at is not None
        assert inquiry.inquiry_at <= inquiry.first_response_at <= inquiry.admitted_at
        if inquiry.assessment_at is not None:
            assert inquiry.first_response_at <= inquiry.assessment_at <= inquiry.admitted_at
        [admission] = admissions
        assert admission.inquiry_id == inquiry.id
        assert admission.care_team_id == seed.care_team_id
        if seed.stage is JourneyStage.IN_TREATMENT:
            assert admission.status is not AdmissionStatus.FINISHED
            assert discharge_id is None
            continue
        discharge = session.get(Discharge, discharge_id)
        assert discharge is not None
        assert discharge.admission_id == admission.id
        assert discharge.discharged_at == seed.discharged_at
        assert admission.status is AdmissionStatus.FINISHED
        if seed.facts["journey.sud"]:
            assert discharge.sensitivity & Sensitivity.PART2
        members = session.scalars(
            select(AlumniMembership).where(AlumniMembership.patient_id == seed.id)
        ).all()
        assert len(members) == (1 if seed.stage is JourneyStage.ALUMNI else 0)
        for member in members:
            assert member.joined_at is not None
            assert member.joined_at >= discharge.discharged_at
            check_ins = session.scalars(
                select(AlumniCheckIn).where(AlumniCheckIn.membership_id == member.id)
            ).all()
            assert 1 <= len(check_ins) <= 2
            assert all(c.checked_in_at <= NOW for c in check_ins)

    # Budget: about 4 rows per admitted patient, far fewer for inquiries.
    assert rows["inquiry"] <= 2 * PER_STAGE
    assert rows["in_treatment"] <= 3 * PER_STAGE
    assert rows["alumni"] <= 9 * PER_STAGE


def test_generator_is_deterministic() -> None:
    first = new_sink(3, today=TODAY)
    second = new_sink(3, today=TODAY)
    _, seeds_a, _ = _seed(first)
    _, seeds_b, _ = _seed(second)
    inquiries = INQUIRY
    assert [r["outcome"] for r in first.rows[inquiries]] == [
        r["outcome"] for r in second.rows[inquiries]
    ]
    assert [s.facts["journey.concern"] for s in seeds_a] == [
        s.facts["journey.concern"] for s in seeds_b
    ]


def test_nothing_is_recorded_after_now_except_scheduled_events() -> None:
    sink = new_sink(4, today=TODAY)
    _seed(sink)
    for table, rows in sink.rows.items():
        if table.name in {"alumni_event", "inquiry", "referral", "admission"}:
            continue  # upcoming events, assessments, referral appointments, expected dates
        for row in rows:
            for key, value in row.items():
                if key.endswith("_at") and value is not None:
                    assert value <= NOW, (table.name, key, value)
    for row in sink.rows[INQUIRY]:
        assert row["inquiry_at"] <= NOW
        assert row["first_response_at"] <= NOW
