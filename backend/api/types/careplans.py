"""Care plan types: plans with their goals and tasks.

Goals and tasks come from the request's per-patient loaders and are matched to their
plan in memory, so nesting costs no query per plan.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.types.common import WithheldField, from_view
from backend.record.categories import GOALS, TASKS


@strawberry.type(description="A goal of a care plan (FHIR Goal).")
class Goal:
    id: strawberry.ID
    care_plan_id: strawberry.ID | None
    parent_goal_id: strawberry.ID | None
    title: str | None
    description: str | None
    category: str | None
    priority: str | None
    lifecycle_status: str | None
    achievement_status: str | None
    status_reason: str | None
    progress_percent: int | None
    start_date: date | None
    target_date: date | None
    measure_text: str | None
    measure_system: str | None
    measure_code: str | None
    measure_display: str | None
    target_comparator: str | None
    target_value: Decimal | None
    target_unit: str | None
    current_value: Decimal | None
    achieved_at: datetime | None
    last_reviewed_at: datetime | None
    ordering: int | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A piece of work for staff or the patient (FHIR Task).")
class Task:
    id: strawberry.ID
    care_plan_id: strawberry.ID | None
    goal_id: strawberry.ID | None
    case_id: strawberry.ID | None
    title: str | None
    description: str | None
    code_system: str | None
    code_code: str | None
    code_display: str | None
    intent: str | None
    assignee_id: strawberry.ID | None
    assignee_role: str | None
    due_at: datetime | None
    priority: str | None
    status: str | None
    status_reason: str | None
    completed_at: datetime | None
    completed_by_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A patient's plan of care (FHIR CarePlan) with its goals and tasks.")
class CarePlan:
    id: strawberry.ID
    template_id: strawberry.ID | None
    title: str | None
    description: str | None
    status: str | None
    intent: str | None
    category_system: str | None
    category_code: str | None
    category_display: str | None
    period_start: date | None
    period_end: date | None
    care_team_id: strawberry.ID | None
    created_by_id: strawberry.ID | None
    replaces_id: strawberry.ID | None
    note: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]

    patient_id: strawberry.Private[uuid.UUID]

    @strawberry.field  # this plan's goals; null when withheld
    async def goals(self, info: Info[ApiContext, None]) -> list[Goal] | None:
        views = await info.context.records(GOALS, self.patient_id)
        if views is None:
            return None
        return [from_view(Goal, v) for v in views if v.care_plan_id == uuid.UUID(self.id)]

    @strawberry.field  # this plan's tasks; null when withheld
    async def tasks(self, info: Info[ApiContext, None]) -> list[Task] | None:
        views = await info.context.records(TASKS, self.patient_id)
        if views is None:
            return None
        return [from_view(Task, v) for v in views if v.care_plan_id == uuid.UUID(self.id)]
