"""The clinical demo generator: rows insert cleanly, respect the journey and the budget."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from statistics import mean

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.clinical.models import (
    Assessment,
    ClinicalNote,
    Condition,
    DiagnosticReport,
    Instrument,
    Medication,
    MedicationStatus,
    NoteKind,
    Observation,
)
from backend.clinical.scoring import score
from backend.common.types import Sensitivity
from backend.demo import clinical
from backend.demo.context import JourneyStage
from backend.demo.sink import RowSink
from backend.scheduling.models import Encounter
from tests.demo_world import demo_clinic, demo_seeds, new_sink, patient_row

TODAY = date(2025, 3, 14)
SUD_CODES = {"F10.20", "F11.20"}
# Patients get their parent row only (patient_row): other domains' generators are not
# under test here.


def test_generator_rows_insert_and_follow_the_journey(session: Session) -> None:
    sink = new_sink("clinical-test", today=TODAY)
    ctx = demo_clinic(sink, today=TODAY, seed=7, generators=(clinical,))
    seeds = demo_seeds(ctx, 40)
    stages = {s.stage for s in seeds}
    assert stages == set(JourneyStage), "the sample should cover every stage"
    treated = next(s for s in seeds if s.stage is JourneyStage.IN_TREATMENT)
    assert treated.admitted_at is not None
    # Two completed visits from scheduling: notes and scores must attach to them.
    visits = []
    for offset in (0, 2):
        start = min(treated.admitted_at + timedelta(days=offset), ctx.now)
        provider = ctx.staff[next(iter(ctx.staff))][0]
        visit_id = sink.add(
            Encounter, patient_id=treated.id, period_start=start, effective_at=start
        )
        visits.append((visit_id, start, provider))
    treated.facts["scheduling.encounters"] = visits
    for seed in seeds:
        patient_row(sink, seed)
        clinical.patient_rows(ctx, seed, sink)
    written = sink.flush(session.connection())
    assert written > 0

    for seed in seeds:
        ids = seed.facts["clinical.condition_ids"]
        stored = session.scalars(select(Condition).where(Condition.patient_id == seed.id)).all()
        assert {c.id for c in stored} == set(ids)
        if seed.stage is JourneyStage.INQUIRY:
            assert ids == []
        else:
            assert 2 <= len(ids) <= 4
            meds = session.scalars(select(Medication).where(Medication.patient_id == seed.id))
            assert 1 <= len(list(meds)) <= 3
        for condition in stored:
            part2 = condition.code.code in SUD_CODES
            assert (Sensitivity.PART2 in condition.sensitivity) is part2

    linked = session.scalars(
        select(Assessment.encounter_id).where(Assessment.patient_id == treated.id)
    ).all()
    assert linked
    assert set(linked) <= {v[0] for v in visits}


def test_assessment_scores_match_their_items_and_improve(session: Session) -> None:
    sink = new_sink("clinical-test", today=TODAY)
    ctx = demo_clinic(sink, today=TODAY, seed=7)
    seeds = [s for s in demo_seeds(ctx, 80) if s.stage is not JourneyStage.INQUIRY]
    for seed in seeds:
        patient_row(sink, seed)
        clinical.patient_rows(ctx, seed, sink)
    sink.flush(session.connection())
    rows = session.scalars(
        select(Assessment)
        .where(Assessment.patient_id.in_([s.id for s in seeds]))
        .order_by(Assessment.patient_id, Assessment.effective_at)
    ).all()
    assert {a.instrument for a in rows} >= {Instrument.PHQ9, Instrument.GAD7}
    series: dict[object, list[int]] = {}
    sexes = {s.id: s.sex for s in seeds}
    for a in rows:
        answers = [item["answer"] for item in a.items]
        result = score(a.instrument, answers, sex=sexes[a.patient_id])
        assert (a.total_score, a.severity, a.suicide_risk) == (
            result.total,
            result.severity,
            result.suicide_risk,
        )
        assert a.effective_at is not None
        assert a.effective_at <= ctx.now
        if a.instrument is Instrument.PHQ9:
            series.setdefault(a.patient_id, []).append(a.total_score or 0)
        if a.instrument is Instrument.AUDIT_C:
            assert Sensitivity.PART2 in a.sensitivity
    repeated = [s for s in series.values() if len(s) > 1]
    assert repeated, "patients treated for weeks get more than one PHQ-9"
    assert all(s[-1] <= s[0] for s in repeated)


def test_labels_dates_and_refills(session: Session) -> None:
    sink = new_sink("clinical-test", today=TODAY)
    ctx = demo_clinic(sink, today=TODAY, seed=7)
    seeds = [s for s in demo_seeds(ctx, 120) if s.stage is not JourneyStage.INQUIRY]
    for seed in seeds:
        patient_row(sink, seed)
        clinical.patient_rows(ctx, seed, sink)
    sink.flush(session.connection())
    ids = [s.id for s in seeds]

    notes = session.scalars(select(ClinicalNote).where(ClinicalNote.patient_id.in_(ids))).all()
    kinds = Counter(n.kind for n in notes)
    assert kinds[NoteKind.PSYCHOTHERAPY]
    assert kinds[NoteKind.DISCHARGE_SUMMARY]
    for note in notes:
        assert (note.kind is NoteKind.PSYCHOTHERAPY) is (
            Sensitivity.PSYCHOTHERAPY in note.sensitivity
        )
        assert note.effective_at is not None
        assert note.effective_at <= ctx.now
        assert note.signed_at is None or note.signed_at <= ctx.now
    discharged = {s.id for s in seeds if s.discharged_at is not None}
    summaries = {n.patient_id for n in notes if n.kind is NoteKind.DISCHARGE_SUMMARY}
    assert summaries == discharged

    meds = session.scalars(select(Medication).where(Medication.patient_id.in_(ids))).all()
    due = [m.refill_due_on for m in meds if m.refill_due_on is not None]
    assert any(ctx.today < d <= ctx.today + timedelta(days=14) for d in due)
    for med in meds:
        if med.code.code in {"1010604", "1483744"}:
            assert Sensitivity.PART2 in med.sensitivity
        if med.status is MedicationStatus.ACTIVE and not med.is_patient_reported:
            assert med.refill_due_on is not None
            assert med.last_filled_on is not None
            assert med.last_filled_on <= ctx.today
            assert med.refills_remaining is not None
            assert med.refills_remaining >= 0

    reports = session.scalars(
        select(DiagnosticReport).where(DiagnosticReport.patient_id.in_(ids))
    ).all()
    assert reports
    grouped = session.scalar(
        select(func.count())
        .select_from(Observation)
        .where(Observation.diagnostic_report_id.in_([r.id for r in reports]))
    )
    assert grouped
    assert grouped >= len(reports)
    abnormal = session.scalar(
        select(func.count()).select_from(Observation).where(Observation.is_abnormal.is_(True))
    )
    assert abnormal
    uds = [r for r in reports if r.code.code == "65750-2"]
    assert uds
    assert all(Sensitivity.PART2 in r.sensitivity for r in uds)


def test_budget_and_determinism() -> None:
    ctx = demo_clinic(new_sink("clinical-test", today=TODAY), today=TODAY, seed=7)
    per_stage: dict[JourneyStage, list[int]] = {stage: [] for stage in JourneyStage}
    for seed in demo_seeds(ctx, 600):
        sink = RowSink(random.Random(seed.index), recorded_at=ctx.now)
        clinical.patient_rows(ctx, seed, sink)
        per_stage[seed.stage].append(sink.count())
        for rows in sink.rows.values():
            for row in rows:
                for key, value in row.items():
                    # Dates (refill due) may be in the future; moments may not.
                    if isinstance(value, datetime):
                        assert value <= ctx.now, (key, value)
    assert max(per_stage[JourneyStage.INQUIRY]) <= 2
    for stage in (JourneyStage.IN_TREATMENT, JourneyStage.DISCHARGED, JourneyStage.ALUMNI):
        assert 12 <= mean(per_stage[stage]) <= 18, (stage, mean(per_stage[stage]))

    seed = demo_seeds(ctx, 3)[2]
    first, second = (RowSink(random.Random(1), recorded_at=ctx.now) for _ in range(2))
    clinical.patient_rows(ctx, seed, first)
    clinical.patient_rows(ctx, seed, second)
    assert {t.name: r for t, r in first.rows.items()} == {t.name: r for t, r in second.rows.items()}
