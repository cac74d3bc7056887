"""Care-plan models against real databases: relationships, constraints, locking, enums."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.accounts.models import StaffRole
from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    CarePlanStatus,
    CaseKind,
    CaseStatus,
    Comparator,
    GoalAchievementStatus,
    GoalCategory,
    GoalLifecycleStatus,
    Priority,
    TaskStatus,
    TemplateStatus,
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
from backend.common.types import Code, CodeSystem, Sensitivity
from backend.demo.context import JourneyStage, PatientSeed
from backend.organization.models import CareTeamRole
from tests.demo_world import clinic, new_sink
from tests.demo_world import patient as demo_patient

WHEN = datetime(2026, 2, 2, 15, 30, tzinfo=UTC)
PHQ9 = Code(CodeSystem.LOINC, "44261-6", "PHQ-9 total score")


@pytest.fixture
def patient(session: Session) -> PatientSeed:
    today = date(2026, 3, 16)
    sink = new_sink(1, today=today)
    ctx = clinic(sink, today=today)
    # In treatment for the last 60 days, after a first contact 10 days before that.
    seed = demo_patient(ctx, sink, 0, JourneyStage.IN_TREATMENT, timeline=(70, 60, None))
    seed.facts["test.therapist_id"] = ctx.staff[StaffRole.THERAPIST][0]
    sink.flush(session.connection())
    return seed


def make_template(session: Session) -> CarePlanTemplate:
    template = CarePlanTemplate(
        name="IOP substance use recovery 12-week",
        program="intensive_outpatient",
        status=TemplateStatus.ACTIVE,
        duration_days=84,
        condition=Code(CodeSystem.ICD10, "F11.20", "Opioid dependence, uncomplicated"),
        default_sensitivity=Sensitivity.PART2,
    )
    session.add(template)
    session.flush()
    goal = TemplateGoal(
        template_id=template.id,
        title="Sustained abstinence",
        category=GoalCategory.RECOVERY,
        target_offset_days=84,
    )
    session.add(goal)
    session.flush()
    session.add_all(
        [
            TemplateGoal(
                template_id=template.id,
                parent_goal_id=goal.id,
                title="30 days abstinent",
                target_offset_days=30,
                measure_text="PHQ-9 < 10",
                measure=PHQ9,
                target_comparator=Comparator.LT,
                target_value=Decimal(10),
            ),
            TemplateBenefit(
                template_id=template.id,
                name="Transportation vouchers",
                category=BenefitCategory.TRANSPORTATION,
                amount_limit=Decimal("75.00"),
                max_uses=5,
                per_period=BenefitPeriod.WEEK,
                unit="voucher",
            ),
            TemplateBenefit(
                template_id=template.id,
                name="Alumni events pass",
                valid_from=date(2026, 1, 1),
                valid_to=date(2026, 12, 31),
            ),
            TemplateTask(
                template_id=template.id,
                goal_id=goal.id,
                title="Relapse prevention plan",
                due_offset_days=21,
                assignee_role=CareTeamRole.THERAPIST,
                priority=Priority.URGENT,
            ),
        ]
    )
    session.flush()
    return template


def test_template_with_goals_milestones_benefits_tasks(session: Session) -> None:
    template_id = make_template(session).id
    session.expunge_all()

    template = session.scalars(
        select(CarePlanTemplate)
        .where(CarePlanTemplate.id == template_id)
        .options(
            selectinload(CarePlanTemplate.goals).selectinload(TemplateGoal.milestones),
            selectinload(CarePlanTemplate.benefits),
            selectinload(CarePlanTemplate.tasks),
        )
    ).one()
    assert template.template_version == "1"
    assert template.condition == Code(
        CodeSystem.ICD10, "F11.20", "Opioid dependence, uncomplicated"
    )
    assert template.default_sensitivity is Sensitivity.PART2
    top = next(g for g in template.goals if g.parent_goal_id is None)
    assert [m.title for m in top.milestones] == ["30 days abstinent"]
    milestone = top.milestones[0]
    assert milestone.measure == PHQ9
    assert milestone.target_comparator is Comparator.LT
    assert milestone.target_value == Decimal(10)
    benefits = {b.name: b for b in template.benefits}
    assert benefits["Transportation vouchers"].per_period is BenefitPeriod.WEEK
    assert benefits["Transportation vouchers"].amount_limit == Decimal("75.00")
    assert benefits["Alumni events pass"].per_period is BenefitPeriod.PLAN  # the default
    assert template.tasks[0].assignee_role is CareTeamRole.THERAPIST
    assert template.tasks[0].goal_id == top.id


def test_template_benefit_refuses_relative_and_absolute_window(session: Session) -> None:
    template = make_template(session)
    session.add(
        TemplateBenefit(
            template_id=template.id,
            name="Both",
            valid_from_offset_days=0,
            valid_to=date(2026, 2, 1),
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_template_name_and_version_are_unique(session: Session) -> None:
    make_template(session)
    session.add(CarePlanTemplate(name="IOP substance use recovery 12-week"))
    with pytest.raises(IntegrityError):
        session.flush()


def make_plan(session: Session, patient: PatientSeed) -> CarePlan:
    therapist = patient.facts["test.therapist_id"]
    plan = CarePlan(
        patient_id=patient.id,
        title="Your 12-week recovery plan",
        status=CarePlanStatus.ACTIVE,
        period_start=date(2026, 1, 5),
        period_end=date(2026, 3, 30),
        care_team_id=patient.care_team_id,
        created_by_id=therapist,
        author_id=therapist,
        effective_at=WHEN,
        sensitivity=Sensitivity.PART2,
        addressed_condition_ids=[str(uuid.uuid4())],
    )
    session.add(plan)
    session.flush()
    goal = Goal(
        patient_id=patient.id,
        care_plan_id=plan.id,
        title="Sustained abstinence",
        lifecycle_status=GoalLifecycleStatus.ACTIVE,
        achievement_status=GoalAchievementStatus.IMPROVING,
        progress_percent=40,
        target_date=date(2026, 3, 30),
        sensitivity=Sensitivity.PART2,
    )
    session.add(goal)
    session.flush()
    milestone = Goal(
        patient_id=patient.id,
        care_plan_id=plan.id,
        parent_goal_id=goal.id,
        title="30 days abstinent",
        lifecycle_status=GoalLifecycleStatus.COMPLETED,
        achievement_status=GoalAchievementStatus.ACHIEVED,
        progress_percent=100,
        achieved_at=WHEN,
        measure=PHQ9,
        target_comparator=Comparator.LT,
        target_value=Decimal(10),
        current_value=Decimal(7),
    )
    benefit = Benefit(
        patient_id=patient.id,
        care_plan_id=plan.id,
        name="Transportation vouchers",
        category=BenefitCategory.TRANSPORTATION,
        valid_from=date(2026, 1, 5),
        valid_to=date(2026, 3, 30),
        amount_limit=Decimal(75),
        max_uses=5,
        per_period=BenefitPeriod.WEEK,
        unit="voucher",
    )
    case = Case(
        patient_id=patient.id,
        kind=CaseKind.BILLING_ISSUE,
        title="Claim denied: authorization missing",
        status=CaseStatus.PENDING,
        priority=Priority.URGENT,
        owner_id=therapist,
        opened_at=WHEN,
        care_plan_id=plan.id,
    )
    session.add_all([milestone, benefit, case])
    session.flush()
    session.add_all(
        [
            BenefitUtilization(
                patient_id=patient.id,
                benefit_id=benefit.id,
                used_on=date(2026, 1, 7),
                amount=Decimal("15.00"),
                approved_by_id=therapist,
            ),
            Task(
                patient_id=patient.id,
                care_plan_id=plan.id,
                goal_id=goal.id,
                title="Relapse prevention plan",
                assignee_id=therapist,
                assignee_role=CareTeamRole.THERAPIST,
                due_at=WHEN,
                priority=Priority.ASAP,
                status=TaskStatus.IN_PROGRESS,
            ),
            Task(
                patient_id=patient.id,
                case_id=case.id,
                title="Call the payer",
                status=TaskStatus.COMPLETED,
                completed_at=WHEN,
                completed_by_id=therapist,
            ),
        ]
    )
    session.flush()
    return plan


def test_plan_with_goals_benefits_tasks_and_case(session: Session, patient: PatientSeed) -> None:
    plan_id = make_plan(session, patient).id
    session.expunge_all()

    plan = session.scalars(
        select(CarePlan)
        .where(CarePlan.id == plan_id)
        .options(
            selectinload(CarePlan.goals).selectinload(Goal.milestones),
            selectinload(CarePlan.benefits).selectinload(Benefit.utilizations),
            selectinload(CarePlan.tasks),
        )
    ).one()
    assert plan.status is CarePlanStatus.ACTIVE
    assert plan.sensitivity is Sensitivity.PART2
    assert plan.effective_at == WHEN
    assert len(plan.addressed_condition_ids) == 1
    top = next(g for g in plan.goals if g.parent_goal_id is None)
    assert top.achievement_status is GoalAchievementStatus.IMPROVING
    (milestone,) = top.milestones
    assert milestone.lifecycle_status is GoalLifecycleStatus.COMPLETED
    assert milestone.achieved_at == WHEN
    assert milestone.measure == PHQ9
    assert milestone.current_value == Decimal(7)
    (benefit,) = plan.benefits
    assert benefit.utilizations[0].amount == Decimal("15.00")
    assert benefit.utilizations[0].units == 1
    (task,) = plan.tasks
    assert (task.status, task.priority) == (TaskStatus.IN_PROGRESS, Priority.ASAP)
    assert task.goal_id == top.id

    case = session.scalars(
        select(Case).where(Case.patient_id == patient.id).options(selectinload(Case.tasks))
    ).one()
    assert case.kind is CaseKind.BILLING_ISSUE
    assert [t.title for t in case.tasks] == ["Call the payer"]
    assert case.tasks[0].care_plan_id is None

    # Relationships load only on purpose (lazy="raise").
    session.expunge_all()
    bare = session.scalars(select(CarePlan).where(CarePlan.id == plan_id)).one()
    with pytest.raises(InvalidRequestError):
        _ = bare.tasks


def test_same_provenance_twice_is_refused(session: Session, patient: PatientSeed) -> None:
    for _ in range(2):
        session.add(
            Task(
                patient_id=patient.id,
                title="Imported task",
                source_system="ehr",
                source_id="task-42",
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_stale_plan_update_raises(session: Session, patient: PatientSeed) -> None:
    plan = make_plan(session, patient)
    assert plan.version == 1
    # Someone else saves the plan first.
    session.execute(
        update(CarePlan)
        .where(CarePlan.id == plan.id)
        .values(version=CarePlan.version + 1, status=CarePlanStatus.ON_HOLD)
        .execution_options(synchronize_session=False)
    )
    plan.status = CarePlanStatus.COMPLETED
    with pytest.raises(StaleDataError):
        session.flush()


def test_goal_progress_must_be_a_percentage(session: Session, patient: PatientSeed) -> None:
    session.add(Goal(patient_id=patient.id, title="Too much", progress_percent=101))
    with pytest.raises(IntegrityError):
        session.flush()


def test_every_task_status_round_trips(session: Session, patient: PatientSeed) -> None:
    for status in TaskStatus:
        session.add(Task(patient_id=patient.id, title=f"Task {status}", status=status))
    session.flush()
    session.expunge_all()
    stored = session.scalars(select(Task.status).where(Task.patient_id == patient.id)).all()
    assert sorted(stored) == sorted(TaskStatus)
    assert all(isinstance(s, TaskStatus) for s in stored)
    assert {s for s in stored if s.is_open} == set(TaskStatus) - {
        TaskStatus.COMPLETED,
        TaskStatus.CANCELLED,
        TaskStatus.FAILED,
        TaskStatus.REJECTED,
    }


def test_every_goal_status_round_trips(session: Session, patient: PatientSeed) -> None:
    pairs = list(zip(GoalLifecycleStatus, GoalAchievementStatus, strict=False))
    for lifecycle, achievement in pairs:
        session.add(
            Goal(
                patient_id=patient.id,
                title=lifecycle.value,
                lifecycle_status=lifecycle,
                achievement_status=achievement,
            )
        )
    session.flush()
    session.expunge_all()
    rows = session.execute(
        select(Goal.lifecycle_status, Goal.achievement_status).where(Goal.patient_id == patient.id)
    ).all()
    assert sorted((r[0], r[1]) for r in rows) == sorted(pairs)
