"""Turning a care-plan template into one patient's dated plan, and checking benefit use.

Pure functions over plain data: no session, no queries. The "apply template to patient"
mutation loads the template rows, turns them into specs (``GoalSpec.from_row`` ...), calls
:func:`plan_from_template` and writes what it returns; the demo generator does the same
from its module constants.

Date rules, in one place:

* goal target dates, task due dates and relative benefit windows are ``start + offset``;
* a goal without an offset is due when its latest milestone is (``None`` if none has one);
* a benefit with no window at all is valid for the whole plan; an absolute window is
  taken as is, whatever the plan's start;
* benefit limits count per calendar window (:class:`BenefitPeriod`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    Comparator,
    GoalCategory,
    Priority,
)
from backend.common.types import Code
from backend.organization.models import CareTeamRole

if TYPE_CHECKING:
    from backend.careplans.templates import TemplateBenefit, TemplateGoal, TemplateTask


class PlanningError(ValueError):
    """The template cannot be applied as it stands (unknown parent, cycle, bad offsets)."""


# --- what goes in: the template, as plain data ---------------------------------------------


@dataclass(frozen=True, slots=True)
class GoalSpec:
    """A template goal (:class:`~backend.careplans.templates.TemplateGoal` as data)."""

    id: uuid.UUID
    title: str
    parent_goal_id: uuid.UUID | None = None
    description: str | None = None
    category: GoalCategory | None = None
    target_offset_days: int | None = None
    measure_text: str | None = None
    measure: Code | None = None
    target_comparator: Comparator | None = None
    target_value: Decimal | None = None
    target_unit: str | None = None
    ordering: int = 0

    @classmethod
    def from_row(cls, row: TemplateGoal) -> GoalSpec:
        return cls(
            id=row.id,
            title=row.title,
            parent_goal_id=row.parent_goal_id,
            description=row.description,
            category=row.category,
            target_offset_days=row.target_offset_days,
            measure_text=row.measure_text,
            measure=row.measure,
            target_comparator=row.target_comparator,
            target_value=row.target_value,
            target_unit=row.target_unit,
            ordering=row.ordering,
        )


@dataclass(frozen=True, slots=True)
class BenefitSpec:
    """A template benefit: relative offsets or an absolute date range, not both."""

    id: uuid.UUID
    name: str
    category: BenefitCategory = BenefitCategory.OTHER
    valid_from_offset_days: int | None = None
    valid_to_offset_days: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    amount_limit: Decimal | None = None
    max_uses: int | None = None
    per_period: BenefitPeriod = BenefitPeriod.PLAN
    unit: str | None = None
    ordering: int = 0

    @classmethod
    def from_row(cls, row: TemplateBenefit) -> BenefitSpec:
        return cls(
            id=row.id,
            name=row.name,
            category=row.category,
            valid_from_offset_days=row.valid_from_offset_days,
            valid_to_offset_days=row.valid_to_offset_days,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            amount_limit=row.amount_limit,
            max_uses=row.max_uses,
            per_period=row.per_period,
            unit=row.unit,
            ordering=row.ordering,
        )


@dataclass(frozen=True, slots=True)
class TaskSpec:
    id: uuid.UUID
    title: str
    goal_id: uuid.UUID | None = None
    description: str | None = None
    due_offset_days: int | None = None
    assignee_role: CareTeamRole | None = None
    priority: Priority = Priority.ROUTINE
    ordering: int = 0

    @classmethod
    def from_row(cls, row: TemplateTask) -> TaskSpec:
        return cls(
            id=row.id,
            title=row.title,
            goal_id=row.goal_id,
            description=row.description,
            due_offset_days=row.due_offset_days,
            assignee_role=row.assignee_role,
            priority=row.priority,
            ordering=row.ordering,
        )


# --- what comes out: the patient's plan, dated ----------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedGoal:
    """A goal to create. ``id``/``parent_goal_id`` are the new goal ids; ``depth`` is 0 for
    a top-level goal, 1 for its milestones ..."""

    id: uuid.UUID
    template_goal_id: uuid.UUID
    parent_goal_id: uuid.UUID | None
    depth: int
    title: str
    description: str | None
    category: GoalCategory | None
    start_date: date
    target_date: date | None
    measure_text: str | None
    measure: Code | None
    target_comparator: Comparator | None
    target_value: Decimal | None
    target_unit: str | None
    ordering: int


@dataclass(frozen=True, slots=True)
class PlannedBenefit:
    template_benefit_id: uuid.UUID
    name: str
    category: BenefitCategory
    valid_from: date | None
    valid_to: date | None
    amount_limit: Decimal | None
    max_uses: int | None
    per_period: BenefitPeriod
    unit: str | None


@dataclass(frozen=True, slots=True)
class PlannedTask:
    template_task_id: uuid.UUID
    goal_id: uuid.UUID | None  # the new goal's id, not the template goal's
    title: str
    description: str | None
    due_date: date | None
    assignee_role: CareTeamRole | None
    priority: Priority


@dataclass(frozen=True, slots=True)
class PlanDraft:
    start: date
    end: date | None
    goals: list[PlannedGoal] = field(default_factory=list)  # parents before their milestones
    benefits: list[PlannedBenefit] = field(default_factory=list)
    tasks: list[PlannedTask] = field(default_factory=list)  # by due date, undated last


def _offset(start: date, days: int | None, what: str) -> date | None:
    if days is None:
        return None
    if days < 0:
        raise PlanningError(f"{what}: offset {days} is before the plan's start")
    return start + timedelta(days=days)


def _goals_in_order(goals: Sequence[GoalSpec]) -> list[tuple[GoalSpec, int]]:
    """Goals with their depth, depth-first: each parent directly before its milestones."""
    by_id = {goal.id: goal for goal in goals}
    if len(by_id) != len(goals):
        raise PlanningError("duplicate template goal ids")
    children: dict[uuid.UUID | None, list[GoalSpec]] = {}
    for goal in goals:
        if goal.parent_goal_id is not None and goal.parent_goal_id not in by_id:
            raise PlanningError(
                f"goal {goal.title!r}: parent {goal.parent_goal_id} not in template"
            )
        children.setdefault(goal.parent_goal_id, []).append(goal)
    ordered: list[tuple[GoalSpec, int]] = []
    stack = [(g, 0) for g in reversed(sorted(children.get(None, []), key=_sibling_key))]
    while stack:
        goal, depth = stack.pop()
        ordered.append((goal, depth))
        kids = sorted(children.get(goal.id, []), key=_sibling_key)
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    if len(ordered) != len(goals):  # whatever was never reached hangs off a cycle
        reached = {goal.id for goal, _ in ordered}
        stuck = sorted(g.title for g in goals if g.id not in reached)
        raise PlanningError(f"goal parents form a cycle: {', '.join(stuck)}")
    return ordered


def _sibling_key(goal: GoalSpec) -> tuple[int, bool, int, str]:
    """Siblings by ``ordering``, then by own target date (undated last), then title."""
    offset = goal.target_offset_days
    return (goal.ordering, offset is None, offset or 0, goal.title)


def plan_from_template(
    *,
    start: date,
    goals: Sequence[GoalSpec] = (),
    benefits: Sequence[BenefitSpec] = (),
    tasks: Sequence[TaskSpec] = (),
    duration_days: int | None = None,
    id_factory: Callable[[], uuid.UUID] = uuid.uuid4,
) -> PlanDraft:
    """Date a template's goals, benefits and tasks for a plan starting on ``start``.

    ``id_factory`` makes the new goals' ids (so tasks and milestones can point at them
    before anything is written); pass a seeded one for reproducible output.
    """
    if duration_days is not None and duration_days <= 0:
        raise PlanningError(f"duration_days must be positive, not {duration_days}")
    end = start + timedelta(days=duration_days) if duration_days is not None else None

    ordered = _goals_in_order(goals)
    new_ids = {goal.id: id_factory() for goal, _ in ordered}
    target = {
        goal.id: _offset(start, goal.target_offset_days, f"goal {goal.title!r}")
        for goal, _ in ordered
    }
    # Deepest first, so an undated parent sees its milestones' already-resolved targets.
    for goal, _depth in sorted(ordered, key=lambda item: -item[1]):
        if target[goal.id] is None:
            child_dates = [
                d for g in goals if g.parent_goal_id == goal.id if (d := target[g.id]) is not None
            ]
            target[goal.id] = max(child_dates) if child_dates else None

    planned_goals = [
        PlannedGoal(
            id=new_ids[goal.id],
            template_goal_id=goal.id,
            parent_goal_id=new_ids[goal.parent_goal_id] if goal.parent_goal_id else None,
            depth=depth,
            title=goal.title,
            description=goal.description,
            category=goal.category,
            start_date=start,
            target_date=target[goal.id],
            measure_text=goal.measure_text,
            measure=goal.measure,
            target_comparator=goal.target_comparator,
            target_value=goal.target_value,
            target_unit=goal.target_unit,
            ordering=goal.ordering,
        )
        for goal, depth in ordered
    ]

    planned_benefits = [
        _plan_benefit(spec, start, end) for spec in sorted(benefits, key=lambda b: b.ordering)
    ]

    planned_tasks: list[PlannedTask] = []
    for spec in tasks:
        if spec.goal_id is not None and spec.goal_id not in new_ids:
            raise PlanningError(f"task {spec.title!r}: goal {spec.goal_id} not in template")
        planned_tasks.append(
            PlannedTask(
                template_task_id=spec.id,
                goal_id=new_ids[spec.goal_id] if spec.goal_id else None,
                title=spec.title,
                description=spec.description,
                due_date=_offset(start, spec.due_offset_days, f"task {spec.title!r}"),
                assignee_role=spec.assignee_role,
                priority=spec.priority,
            )
        )
    order = {spec.id: spec.ordering for spec in tasks}
    planned_tasks.sort(
        key=lambda t: (t.due_date is None, t.due_date or start, order[t.template_task_id])
    )
    return PlanDraft(
        start=start,
        end=end,
        goals=planned_goals,
        benefits=planned_benefits,
        tasks=planned_tasks,
    )


def _plan_benefit(spec: BenefitSpec, start: date, end: date | None) -> PlannedBenefit:
    relative = spec.valid_from_offset_days is not None or spec.valid_to_offset_days is not None
    absolute = spec.valid_from is not None or spec.valid_to is not None
    what = f"benefit {spec.name!r}"
    if relative and absolute:
        raise PlanningError(f"{what}: give offsets or absolute dates, not both")
    if absolute:
        valid_from, valid_to = spec.valid_from, spec.valid_to
    else:
        valid_from = _offset(start, spec.valid_from_offset_days, what) or start
        valid_to = _offset(start, spec.valid_to_offset_days, what) or end
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise PlanningError(f"{what}: window ends before it starts")
    if spec.max_uses is not None and spec.max_uses <= 0:
        raise PlanningError(f"{what}: max_uses must be positive")
    return PlannedBenefit(
        template_benefit_id=spec.id,
        name=spec.name,
        category=spec.category,
        valid_from=valid_from,
        valid_to=valid_to,
        amount_limit=spec.amount_limit,
        max_uses=spec.max_uses,
        per_period=spec.per_period,
        unit=spec.unit,
    )


# --- benefit limits ---------------------------------------------------------------------------


class BenefitTerms(Protocol):
    """What :func:`benefit_allows` reads: a :class:`PlannedBenefit` or a Benefit row."""

    @property
    def valid_from(self) -> date | None: ...
    @property
    def valid_to(self) -> date | None: ...
    @property
    def amount_limit(self) -> Decimal | None: ...
    @property
    def max_uses(self) -> int | None: ...
    @property
    def per_period(self) -> BenefitPeriod: ...
    @property
    def unit(self) -> str | None: ...


class Use(Protocol):
    """A past use: a BenefitUtilization row or any object with these attributes."""

    @property
    def used_on(self) -> date: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def units(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PastUse:
    """A plain :class:`Use`, for callers that hold tuples rather than rows."""

    used_on: date
    amount: Decimal | None = None
    units: int = 1


def period_window(period: BenefitPeriod, on_date: date) -> tuple[date, date] | None:
    """The calendar window (first day, last day) that ``on_date`` falls in; ``None`` for
    :attr:`BenefitPeriod.PLAN`, which spans the whole benefit."""
    if period is BenefitPeriod.DAY:
        return on_date, on_date
    if period is BenefitPeriod.WEEK:
        monday = on_date - timedelta(days=on_date.weekday())
        return monday, monday + timedelta(days=6)
    if period is BenefitPeriod.MONTH:
        first = on_date.replace(day=1)
        next_first = (first + timedelta(days=32)).replace(day=1)
        return first, next_first - timedelta(days=1)
    return None


def benefit_allows(
    benefit: BenefitTerms,
    utilizations: Iterable[Use],
    on_date: date,
    amount: Decimal | None = None,
    *,
    units: int = 1,
) -> tuple[bool, str]:
    """May the benefit be used once more on ``on_date`` for ``amount`` (and ``units``)?

    Returns ``(True, "allowed")`` or ``(False, reason)`` with a reason staff can read out.
    ``utilizations`` are the benefit's past uses, deleted ones already left out; uses in
    other windows do not count. An ``amount`` of ``None`` spends no money.
    """
    if units < 1:
        return False, "units must be at least 1"
    if amount is not None and amount < 0:
        return False, "amount must not be negative"
    if benefit.valid_from is not None and on_date < benefit.valid_from:
        return False, f"not valid before {benefit.valid_from.isoformat()}"
    if benefit.valid_to is not None and on_date > benefit.valid_to:
        return False, f"expired on {benefit.valid_to.isoformat()}"

    window = period_window(benefit.per_period, on_date)
    per = "for the plan" if window is None else f"per {benefit.per_period.value}"
    used_units = 0
    spent = Decimal(0)
    for use in utilizations:
        if window is not None and not window[0] <= use.used_on <= window[1]:
            continue
        used_units += use.units
        spent += use.amount or Decimal(0)

    if benefit.max_uses is not None and used_units + units > benefit.max_uses:
        unit = benefit.unit or "use"
        return False, (
            f"limit of {benefit.max_uses} {unit}(s) {per} reached ({used_units} already used)"
        )
    if benefit.amount_limit is not None and amount is not None:
        left = benefit.amount_limit - spent
        if amount > left:
            return False, (
                f"{amount:.2f} exceeds the {left:.2f} left of {benefit.amount_limit:.2f} {per}"
            )
    return True, "allowed"
