"""The rows of one demo care plan: goals, benefits and their use, tasks and cases.

:mod:`backend.demo.careplans` decides which plan a patient gets; these functions write
its parts, all drawing from the patient's ``careplans`` random generator."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from backend.accounts.models import StaffRole
from backend.careplans.enums import (
    CarePlanStatus,
    CaseKind,
    CaseStatus,
    GoalAchievementStatus,
    GoalLifecycleStatus,
    GoalPriority,
    Priority,
    TaskStatus,
)
from backend.careplans.models import (
    Benefit,
    BenefitUtilization,
    Case,
    Goal,
    Task,
)
from backend.careplans.planning import (
    PastUse,
    PlannedBenefit,
    PlannedGoal,
    benefit_allows,
)
from backend.careplans.starter import StarterTemplate
from backend.common.types import Sensitivity
from backend.demo.careplans.content import (
    CASE_OWNER,
    CASES,
    DEFAULT_RESOLUTION,
    RESOLUTIONS,
    STAFF_FOR_TEAM_ROLE,
    USE_NOTES,
)
from backend.demo.context import DemoContext, PatientSeed, at, between
from backend.demo.sink import RowSink
from backend.organization.models import CareTeamRole


@dataclass
class Plan:
    """What every record of one patient's plan shares while it is being written."""

    ctx: DemoContext
    patient: PatientSeed
    sink: RowSink
    rng: random.Random
    id: uuid.UUID | None  # None: an inquiry's case work, which has no plan
    status: CarePlanStatus
    start: date
    end: date | None
    created_at: datetime
    as_of: datetime  # when the story stops: now, or the plan's end if it closed
    author_id: uuid.UUID
    sensitivity: Sensitivity

    @property
    def closed(self) -> bool:
        return self.status in {CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED}

    def staff_for(self, role: CareTeamRole | None) -> uuid.UUID:
        staff_role = STAFF_FOR_TEAM_ROLE[role] if role else StaffRole.CARE_COORDINATOR
        return self.ctx.team_member(self.patient, staff_role, self.rng)


def pick_goals(goals: list[PlannedGoal], rng: random.Random) -> list[PlannedGoal]:
    """Two top-level goals and, now and then, one of their milestones (parents first)."""
    tops = [g for g in goals if g.parent_goal_id is None]
    keep = {g.id for g in rng.sample(tops, min(2, len(tops)))}
    for goal_id in list(keep):
        milestones = [g for g in goals if g.parent_goal_id == goal_id]
        if milestones and rng.random() < 0.3:
            keep.add(rng.choice(milestones).id)
    return [g for g in goals if g.id in keep]


def add_goal(plan: Plan, goal: PlannedGoal) -> None:
    rng = plan.rng
    target = goal.target_date or plan.end or plan.start + timedelta(days=90)
    span = max((target - plan.start).days, 1)
    elapsed = (plan.as_of.date() - plan.start).days
    fraction = min(max(elapsed / span, 0.0), 1.0)
    achieved_at = None
    due_passed = target <= plan.as_of.date()
    if (plan.closed or due_passed) and rng.random() < (0.7 if plan.closed else 0.6):
        lifecycle, achievement, progress = (
            GoalLifecycleStatus.COMPLETED,
            GoalAchievementStatus.ACHIEVED,
            100,
        )
        latest = min(datetime.combine(target, plan.as_of.timetz()), plan.as_of)
        achieved_at = between(rng, plan.created_at + (latest - plan.created_at) * 0.6, latest)
    elif plan.closed:
        lifecycle = GoalLifecycleStatus.COMPLETED
        achievement = GoalAchievementStatus.NOT_ACHIEVED
        progress = rng.randrange(30, 90, 5)
    else:
        lifecycle = (
            GoalLifecycleStatus.ON_HOLD
            if plan.status is CarePlanStatus.ON_HOLD
            else (GoalLifecycleStatus.ACCEPTED if fraction < 0.05 else GoalLifecycleStatus.ACTIVE)
        )
        if fraction < 0.1:
            achievement = GoalAchievementStatus.IN_PROGRESS
        elif due_passed:
            achievement = rng.choice(
                (GoalAchievementStatus.NO_CHANGE, GoalAchievementStatus.NOT_ACHIEVED)
            )
        else:
            achievement = rng.choices(
                (
                    GoalAchievementStatus.IMPROVING,
                    GoalAchievementStatus.NO_CHANGE,
                    GoalAchievementStatus.WORSENING,
                ),
                weights=(0.6, 0.25, 0.15),
            )[0]
        if due_passed:
            progress = rng.randrange(40, 90, 5)  # overdue: partly there
        else:
            worse = achievement is GoalAchievementStatus.WORSENING
            noise = -25 if worse else rng.randint(-15, 10)
            progress = int(min(95, max(0, fraction * 100 + noise)))
    reviewed = between(rng, max(plan.created_at, plan.as_of - timedelta(days=21)), plan.as_of)
    current = None
    if goal.target_value is not None:
        baseline = goal.target_value + 6 + rng.randint(0, 8)
        best = goal.target_value - 3
        current = (baseline - (baseline - best) * Decimal(progress) / 100).quantize(Decimal(1))
    plan.sink.add(
        Goal,
        id=goal.id,
        patient_id=plan.patient.id,
        effective_at=plan.created_at,
        updated_at=max(reviewed, achieved_at or reviewed),
        author_id=plan.author_id,
        sensitivity=plan.sensitivity,
        care_plan_id=plan.id,
        parent_goal_id=goal.parent_goal_id,
        template_goal_id=goal.template_goal_id,
        title=goal.title,
        category=goal.category,
        priority=GoalPriority.HIGH if goal.parent_goal_id is None else GoalPriority.MEDIUM,
        lifecycle_status=lifecycle,
        achievement_status=achievement,
        progress_percent=progress,
        start_date=goal.start_date,
        target_date=goal.target_date,
        measure_text=goal.measure_text,
        measure_system=goal.measure.system if goal.measure else None,
        measure_code=goal.measure.code if goal.measure else None,
        measure_display=goal.measure.display if goal.measure else None,
        target_comparator=goal.target_comparator,
        target_value=goal.target_value,
        target_unit=goal.target_unit,
        current_value=current,
        achieved_at=achieved_at,
        last_reviewed_at=reviewed,
        ordering=goal.ordering,
    )


def add_benefit(plan: Plan, info: StarterTemplate, benefit: PlannedBenefit) -> None:
    rng = plan.rng
    benefit_id = plan.sink.add(
        Benefit,
        patient_id=plan.patient.id,
        effective_at=plan.created_at,
        author_id=plan.author_id,
        sensitivity=plan.sensitivity,
        care_plan_id=plan.id,
        template_benefit_id=benefit.template_benefit_id,
        name=benefit.name,
        category=benefit.category,
        valid_from=benefit.valid_from,
        valid_to=benefit.valid_to,
        amount_limit=benefit.amount_limit,
        max_uses=benefit.max_uses,
        per_period=benefit.per_period,
        unit=benefit.unit,
        active=not plan.closed,
    )
    first = max(benefit.valid_from or plan.start, plan.start)
    last = min(benefit.valid_to or plan.as_of.date(), plan.as_of.date())
    if last < first:
        return
    amount = info.use_amount.get(benefit.template_benefit_id)
    wanted = rng.choices((0, 1, 2, 3), weights=(0.35, 0.35, 0.2, 0.1))[0]
    days = sorted(
        first + timedelta(days=rng.randint(0, (last - first).days)) for _ in range(wanted)
    )
    notes = USE_NOTES.get(benefit.category, ("Benefit used",))
    uses: list[PastUse] = []
    for day in days:
        allowed, _reason = benefit_allows(benefit, uses, day, amount)
        if not allowed:
            continue  # staff would have refused it: the demo never breaks its own limits
        uses.append(PastUse(day, amount))
        when = max(at(day, rng), plan.created_at)
        approver = plan.staff_for(CareTeamRole.CARE_COORDINATOR)
        plan.sink.add(
            BenefitUtilization,
            patient_id=plan.patient.id,
            effective_at=min(when, plan.ctx.now),
            author_id=approver,
            sensitivity=plan.sensitivity,
            benefit_id=benefit_id,
            used_on=day,
            amount=amount,
            units=1,
            note=rng.choice(notes),
            approved_by_id=approver,
        )


def add_task(
    plan: Plan,
    *,
    title: str,
    due_date: date | None,
    role: CareTeamRole | None,
    priority: Priority,
    goal_id: uuid.UUID | None = None,
    template_task_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    description: str | None = None,
    created_at: datetime | None = None,
    settled_at: datetime | None = None,
) -> uuid.UUID:
    """One task; ``settled_at``: its case closed then, so it was done by that time."""
    rng = plan.rng
    created = created_at or plan.created_at
    due_at = at(due_date, rng, 9, 17) if due_date else None
    assignee = plan.staff_for(role)
    if settled_at is not None:
        status, reason = TaskStatus.COMPLETED, None
        completed_at: datetime | None = between(rng, created, settled_at)
    else:
        status, completed_at, reason = _task_outcome(plan, created, due_at, rng)
    task_id = plan.sink.add(
        Task,
        patient_id=plan.patient.id,
        effective_at=created,
        updated_at=completed_at or max(plan.as_of, created),
        author_id=plan.author_id,
        sensitivity=plan.sensitivity,
        care_plan_id=plan.id,
        goal_id=goal_id,
        case_id=case_id,
        template_task_id=template_task_id,
        title=title,
        description=description,
        assignee_id=assignee,
        assignee_role=role,
        due_at=due_at,
        priority=priority,
        status=status,
        status_reason=reason,
        completed_at=completed_at,
        completed_by_id=assignee if completed_at else None,
    )
    plan.patient.facts["careplans.task_ids"].append(task_id)
    return task_id


def _task_outcome(
    plan: Plan, created: datetime, due_at: datetime | None, rng: random.Random
) -> tuple[TaskStatus, datetime | None, str | None]:
    """Done, overdue or still ahead, as the plan's story so far allows."""
    due = due_at or plan.as_of
    if due <= plan.as_of:
        roll = rng.random()
        if roll < (0.85 if plan.closed else 0.7):
            done = between(rng, max(created, due - timedelta(days=4)), min(due, plan.as_of))
            return TaskStatus.COMPLETED, done, None
        if plan.closed or roll > 0.92:
            return TaskStatus.CANCELLED, None, "No longer needed"
        return rng.choice((TaskStatus.REQUESTED, TaskStatus.IN_PROGRESS)), None, None  # overdue
    if plan.closed:
        return TaskStatus.CANCELLED, None, "Plan ended before the task was due"
    if plan.status is CarePlanStatus.ON_HOLD:
        return TaskStatus.ON_HOLD, None, "Care plan on hold"
    return rng.choice((TaskStatus.REQUESTED, TaskStatus.READY, TaskStatus.IN_PROGRESS)), None, None


def add_case(
    plan: Plan, kind: CaseKind, *, opened: datetime | None = None, follow_up: float = 0.5
) -> None:
    rng = plan.rng
    if kind is CaseKind.AFTERCARE and plan.patient.discharged_at is None:
        kind = CaseKind.CARE_COORDINATION
    team_role = CASE_OWNER.get(kind, CareTeamRole.CARE_COORDINATOR)
    owner = plan.staff_for(team_role)
    opened = opened or between(rng, plan.created_at, plan.as_of)
    status, closed_at = _case_outcome(plan.ctx.now, opened, rng)
    title = rng.choice(CASES[kind])
    case_id = plan.sink.add(
        Case,
        patient_id=plan.patient.id,
        effective_at=opened,
        updated_at=closed_at or opened,
        author_id=owner,
        sensitivity=plan.sensitivity,
        kind=kind,
        title=title,
        status=status,
        priority=Priority.URGENT if kind is CaseKind.CRISIS else Priority.ROUTINE,
        owner_id=owner,
        care_team_id=plan.patient.care_team_id,
        care_plan_id=plan.id,
        opened_at=opened,
        closed_at=closed_at,
        resolution=(
            rng.choice(RESOLUTIONS.get(kind, DEFAULT_RESOLUTION))
            if status in {CaseStatus.CLOSED, CaseStatus.RESOLVED}
            else None
        ),
    )
    if rng.random() < follow_up:
        intake = kind is CaseKind.INTAKE
        add_task(
            plan,
            title="Call back about admission and verify insurance"
            if intake
            else f"Follow up: {title}",
            due_date=(opened + timedelta(days=1 if intake else 3)).date(),
            role=team_role,
            priority=Priority.URGENT if kind is CaseKind.CRISIS else Priority.ROUTINE,
            case_id=case_id,
            created_at=opened,
            settled_at=closed_at,
        )


def _case_outcome(
    now: datetime, opened: datetime, rng: random.Random
) -> tuple[CaseStatus, datetime | None]:
    """Most cases older than three weeks are closed; younger ones are still being worked."""
    if now - opened > timedelta(days=21) and rng.random() < 0.85:
        closed = between(rng, opened + timedelta(hours=4), min(now, opened + timedelta(days=21)))
        return CaseStatus.CLOSED, closed
    status = rng.choices(
        (CaseStatus.OPEN, CaseStatus.PENDING, CaseStatus.RESOLVED), weights=(0.5, 0.3, 0.2)
    )[0]
    return status, None
