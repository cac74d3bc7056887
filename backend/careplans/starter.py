"""Starter template definitions given ids: as planner specs and as rows to insert.

:func:`materialize` is what a "load starter templates" command and the demo seeder share:
it fixes every id up front (the planner and the rows must agree on them) and returns the
column values of each table row, so callers can bulk-insert without the ORM.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from backend.careplans.enums import TemplateStatus
from backend.careplans.planning import BenefitSpec, GoalSpec, TaskSpec
from backend.careplans.starter_templates import TemplateDef
from backend.careplans.templates import (
    CarePlanTemplate,
    TemplateBenefit,
    TemplateGoal,
    TemplateTask,
)
from backend.common.types import Sensitivity
from backend.db import Base


@dataclass(frozen=True)
class StarterTemplate:
    """One template with ids: specs for :func:`~backend.careplans.planning.plan_from_template`
    and ``use_amount`` (template benefit id -> usual amount of one use). Picklable, so it
    can travel to worker processes in the demo context."""

    definition: TemplateDef
    id: uuid.UUID
    valid_year: int  # the calendar year "this_year" benefit windows were dated to
    goals: tuple[GoalSpec, ...]
    benefits: tuple[BenefitSpec, ...]
    tasks: tuple[TaskSpec, ...]
    use_amount: dict[uuid.UUID, Decimal] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def duration_days(self) -> int:
        return self.definition.duration_days

    @property
    def sensitivity(self) -> Sensitivity:
        return self.definition.sensitivity

    def rows(self, *, publisher: str | None = None) -> list[tuple[type[Base], dict[str, Any]]]:
        """(model, column values) of every row, parents first (goals before milestones)."""
        d = self.definition
        cond = d.condition
        rows: list[tuple[type[Base], dict[str, Any]]] = [
            (
                CarePlanTemplate,
                {
                    "id": self.id,
                    "name": d.name,
                    "title": d.title,
                    "description": d.description,
                    "program": d.program,
                    "template_version": "1",
                    "status": TemplateStatus.ACTIVE,
                    "duration_days": d.duration_days,
                    "condition_system": cond.system if cond else None,
                    "condition_code": cond.code if cond else None,
                    "condition_display": cond.display if cond else None,
                    "default_sensitivity": d.sensitivity,
                    "publisher": publisher,
                },
            )
        ]
        for goal in self.goals:
            m = goal.measure
            rows.append(
                (
                    TemplateGoal,
                    {
                        "id": goal.id,
                        "template_id": self.id,
                        "parent_goal_id": goal.parent_goal_id,
                        "title": goal.title,
                        "description": goal.description,
                        "category": goal.category,
                        "target_offset_days": goal.target_offset_days,
                        "measure_text": goal.measure_text,
                        "measure_system": m.system if m else None,
                        "measure_code": m.code if m else None,
                        "measure_display": m.display if m else None,
                        "target_comparator": goal.target_comparator,
                        "target_value": goal.target_value,
                        "target_unit": goal.target_unit,
                        "ordering": goal.ordering,
                    },
                )
            )
        for spec, bdef in zip(self.benefits, d.benefits, strict=True):
            rows.append(
                (
                    TemplateBenefit,
                    {
                        "id": spec.id,
                        "template_id": self.id,
                        "name": spec.name,
                        "category": spec.category,
                        "description": bdef.description,
                        "valid_from_offset_days": spec.valid_from_offset_days,
                        "valid_to_offset_days": spec.valid_to_offset_days,
                        "valid_from": spec.valid_from,
                        "valid_to": spec.valid_to,
                        "amount_limit": spec.amount_limit,
                        "max_uses": spec.max_uses,
                        "per_period": spec.per_period,
                        "unit": spec.unit,
                        "ordering": spec.ordering,
                    },
                )
            )
        for task in self.tasks:
            rows.append(
                (
                    TemplateTask,
                    {
                        "id": task.id,
                        "template_id": self.id,
                        "goal_id": task.goal_id,
                        "title": task.title,
                        "description": task.description,
                        "due_offset_days": task.due_offset_days,
                        "assignee_role": task.assignee_role,
                        "priority": task.priority,
                        "ordering": task.ordering,
                    },
                )
            )
        return rows


def materialize(
    definition: TemplateDef, *, id_factory: Callable[[], uuid.UUID], today: date
) -> StarterTemplate:
    """Give a definition ids; ``this_year`` benefit windows become ``today``'s calendar year."""
    goal_ids: dict[str, uuid.UUID] = {}
    for g in definition.goals:
        # Parents listed first, so inserting in this order satisfies the self-reference.
        if g.parent is not None and g.parent not in goal_ids:
            raise ValueError(f"{definition.key}: goal {g.key!r} comes before its parent")
        goal_ids[g.key] = id_factory()
    goals = tuple(
        GoalSpec(
            id=goal_ids[g.key],
            title=g.title,
            parent_goal_id=goal_ids[g.parent] if g.parent else None,
            category=g.category,
            target_offset_days=g.offset,
            measure_text=g.measure_text,
            measure=g.measure,
            target_comparator=g.comparator,
            target_value=g.value,
            target_unit=g.unit,
            ordering=order,
        )
        for order, g in enumerate(definition.goals)
    )
    year_start, year_end = date(today.year, 1, 1), date(today.year, 12, 31)
    benefits = tuple(
        BenefitSpec(
            id=id_factory(),
            name=b.name,
            category=b.category,
            valid_from_offset_days=None if b.this_year else b.from_offset,
            valid_to_offset_days=None if b.this_year else b.to_offset,
            valid_from=year_start if b.this_year else None,
            valid_to=year_end if b.this_year else None,
            amount_limit=b.amount_limit,
            max_uses=b.max_uses,
            per_period=b.per_period,
            unit=b.unit,
            ordering=order,
        )
        for order, b in enumerate(definition.benefits)
    )
    tasks = tuple(
        TaskSpec(
            id=id_factory(),
            title=t.title,
            goal_id=goal_ids[t.goal] if t.goal else None,
            description=t.description,
            due_offset_days=t.offset,
            assignee_role=t.role,
            priority=t.priority,
            ordering=order,
        )
        for order, t in enumerate(definition.tasks)
    )
    use_amount = {
        spec.id: b.use_amount
        for spec, b in zip(benefits, definition.benefits, strict=True)
        if b.use_amount is not None
    }
    return StarterTemplate(
        definition=definition,
        id=id_factory(),
        valid_year=today.year,
        goals=goals,
        benefits=benefits,
        tasks=tasks,
        use_amount=use_amount,
    )
