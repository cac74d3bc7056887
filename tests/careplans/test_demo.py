"""The careplans demo generator: its rows insert cleanly and tell a consistent story."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.careplans.enums import (
    CarePlanStatus,
    GoalAchievementStatus,
    GoalLifecycleStatus,
    TaskStatus,
)
from backend.careplans.models import (
    Benefit,
    BenefitUtilization,
    CarePlan,
    CarePlanTemplate,
    Case,
    Goal,
    Task,
    TemplateBenefit,
    TemplateGoal,
    TemplateTask,
)
from backend.careplans.planning import PastUse, benefit_allows
from backend.common.types import Sensitivity
from backend.demo import careplans
from backend.demo.context import DemoContext, JourneyStage, PatientSeed
from tests.demo_world import Timeline, clinic, new_sink, patient

TODAY = date(2026, 3, 16)
STAGES = [
    JourneyStage.INQUIRY,
    JourneyStage.IN_TREATMENT,
    JourneyStage.DISCHARGED,
    JourneyStage.ALUMNI,
]


def timeline(stage: JourneyStage, days_ago: int = 60) -> Timeline:
    """Admitted (or discharged, after 70 days of care) ``days_ago``."""
    if stage in {JourneyStage.DISCHARGED, JourneyStage.ALUMNI}:
        return (days_ago + 75, days_ago + 70, days_ago)
    return (days_ago + 10, days_ago, None)


def seed_patients(
    session: Session, count: int, *, program: str = "intensive_outpatient"
) -> tuple[DemoContext, list[PatientSeed], int]:
    sink = new_sink(1, today=TODAY)
    ctx = clinic(sink, today=TODAY, program=program, generators=(careplans,))
    seeds = []
    for index in range(count):
        stage = STAGES[index % len(STAGES)]
        days_ago = 10 + (index * 37) % 300
        seeds.append(patient(ctx, sink, index, stage, timeline=timeline(stage, days_ago)))
    for seed in seeds:
        careplans.patient_rows(ctx, seed, sink)
    written = sink.flush(session.connection())
    return ctx, seeds, written


def test_setup_writes_the_starter_templates(session: Session) -> None:
    ctx, _, _ = seed_patients(session, 0)
    names = set(session.scalars(select(CarePlanTemplate.name)))
    assert names == {
        "Outpatient depression & anxiety 90-day",
        "IOP substance use recovery 12-week",
        "Trauma-focused therapy (CPT) 16-week",
        "Aftercare & alumni 6-month",
    }
    assert set(ctx.shared["careplans.templates"]) == {
        "depression_anxiety",
        "iop_sud",
        "ptsd_cpt",
        "aftercare",
    }
    iop = session.scalars(
        select(CarePlanTemplate).where(CarePlanTemplate.program == "intensive_outpatient")
    ).one()
    assert iop.default_sensitivity is Sensitivity.PART2
    milestones = session.scalar(
        select(func.count())
        .select_from(TemplateGoal)
        .where(TemplateGoal.template_id == iop.id, TemplateGoal.parent_goal_id.is_not(None))
    )
    assert milestones == 5
    sober = session.scalars(
        select(TemplateBenefit).where(TemplateBenefit.name == "Sober-living stipend")
    ).one()
    assert (sober.valid_from_offset_days, sober.valid_to_offset_days) == (14, 84)
    events = session.scalars(
        select(TemplateBenefit).where(TemplateBenefit.name == "Alumni events pass")
    ).one()
    assert events.valid_from == date(ctx.today.year, 1, 1)
    assert session.scalar(select(func.count()).select_from(TemplateTask)) == 21


@pytest.mark.parametrize("program", ["intensive_outpatient", "outpatient"])
def test_patient_rows_insert_and_are_consistent(session: Session, program: str) -> None:
    ctx, seeds, written = seed_patients(session, 40, program=program)
    assert written > 40 * 5
    now = ctx.now

    plans = {p.patient_id: p for p in session.scalars(select(CarePlan))}
    for seed in seeds:
        plan_id = seed.facts["careplans.plan_id"]
        if seed.stage is JourneyStage.INQUIRY:
            assert plan_id is None
            assert seed.id not in plans
            continue
        plan = plans[seed.id]
        assert plan.id == plan_id
        assert plan.care_team_id == seed.care_team_id
        assert plan.effective_at is not None
        assert plan.effective_at <= now
        if seed.stage is JourneyStage.DISCHARGED:
            assert plan.status in {CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED}
            assert seed.discharged_at is not None
            assert plan.period_end == seed.discharged_at.date()
        elif seed.stage is JourneyStage.IN_TREATMENT:
            assert plan.status in {CarePlanStatus.ACTIVE, CarePlanStatus.ON_HOLD}
        else:
            assert plan.title == "Your first six months after treatment"

    # Every task the facts name exists and belongs to its patient.
    tasks = {t.id: t for t in session.scalars(select(Task))}
    named = [(seed, task_id) for seed in seeds for task_id in seed.facts["careplans.task_ids"]]
    assert {task_id for _, task_id in named} == set(tasks)
    for seed, task_id in named:
        assert tasks[task_id].patient_id == seed.id
    for task in tasks.values():
        assert task.effective_at is not None
        assert task.effective_at <= now
        if task.status is TaskStatus.COMPLETED:
            assert task.completed_at is not None
            assert task.completed_at <= now
            assert task.completed_by_id is not None
        else:
            assert task.completed_at is None
    statuses = {t.status for t in tasks.values()}
    assert TaskStatus.COMPLETED in statuses
    overdue = [t for t in tasks.values() if t.status.is_open and t.due_at and t.due_at < now]
    assert overdue, "some tasks should be overdue"

    for goal in session.scalars(select(Goal)):
        assert 0 <= goal.progress_percent <= 100
        if goal.achievement_status is GoalAchievementStatus.ACHIEVED:
            assert goal.lifecycle_status is GoalLifecycleStatus.COMPLETED
            assert goal.progress_percent == 100
            assert goal.achieved_at is not None
            assert goal.achieved_at <= now
        assert goal.last_reviewed_at is not None
        assert goal.last_reviewed_at <= now
        assert goal.care_plan_id == plans[goal.patient_id].id

    # Part 2 labels follow the programme.
    iop_plans = [p for p in plans.values() if p.title == "Your 12-week recovery plan"]
    for plan in iop_plans:
        assert plan.sensitivity is Sensitivity.PART2
    part2_patients = {p.patient_id for p in iop_plans}
    for goal in session.scalars(select(Goal).where(Goal.patient_id.in_(part2_patients))):
        assert goal.sensitivity is Sensitivity.PART2


def test_utilizations_respect_benefit_limits(session: Session) -> None:
    ctx, _, _ = seed_patients(session, 60)
    uses: dict[uuid.UUID, list[BenefitUtilization]] = defaultdict(list)
    for use in session.scalars(select(BenefitUtilization).order_by(BenefitUtilization.used_on)):
        uses[use.benefit_id].append(use)
    assert uses, "some benefits should have been used"
    benefits = {b.id: b for b in session.scalars(select(Benefit))}
    for benefit_id, rows in uses.items():
        benefit = benefits[benefit_id]
        for n, use in enumerate(rows):
            assert use.used_on <= ctx.today
            assert use.approved_by_id is not None
            earlier = [PastUse(u.used_on, u.amount, u.units) for u in rows[:n]]
            allowed, reason = benefit_allows(benefit, earlier, use.used_on, use.amount)
            assert allowed, reason


def test_inquiries_get_few_rows_and_cases_are_closed_consistently(session: Session) -> None:
    _, seeds, _ = seed_patients(session, 80)
    inquiries = {s.id for s in seeds if s.stage is JourneyStage.INQUIRY}
    per_patient: dict[uuid.UUID, int] = dict(
        session.execute(select(Task.patient_id, func.count()).group_by(Task.patient_id))
        .tuples()
        .all()
    )
    assert all(per_patient.get(pid, 0) <= 1 for pid in inquiries)
    plans_of_inquiries = select(func.count()).where(CarePlan.patient_id.in_(inquiries))
    assert session.scalar(plans_of_inquiries) == 0
    for case in session.scalars(select(Case)):
        assert (case.closed_at is not None) == (case.status.value == "closed")
        if case.closed_at is not None:
            assert case.closed_at >= case.opened_at


def test_same_seed_same_rows() -> None:
    def rows() -> list[tuple[str, list[dict[str, object]]]]:
        sink = new_sink(1, today=TODAY)
        ctx = clinic(sink, today=TODAY, generators=(careplans,))
        for index, stage in enumerate(STAGES * 3):
            seed = patient(ctx, sink, index, stage, timeline=timeline(stage))
            careplans.patient_rows(ctx, seed, sink)
        return sorted((t.name, r) for t, r in sink.rows.items())

    assert rows() == rows()
