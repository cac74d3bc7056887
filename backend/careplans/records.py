"""Care plan records handed to transports: frozen views, already masked (column names)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class CarePlanView:
    id: uuid.UUID
    template_id: uuid.UUID | None = None
    title: str | None = None
    description: str | None = None
    status: str | None = None
    intent: str | None = None
    category_system: str | None = None
    category_code: str | None = None
    category_display: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    care_team_id: uuid.UUID | None = None
    created_by_id: uuid.UUID | None = None
    replaces_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class GoalView:
    id: uuid.UUID
    care_plan_id: uuid.UUID | None = None
    parent_goal_id: uuid.UUID | None = None
    title: str | None = None
    description: str | None = None
    category: str | None = None
    priority: str | None = None
    lifecycle_status: str | None = None
    achievement_status: str | None = None
    status_reason: str | None = None
    progress_percent: int | None = None
    start_date: date | None = None
    target_date: date | None = None
    measure_text: str | None = None
    measure_system: str | None = None
    measure_code: str | None = None
    measure_display: str | None = None
    target_comparator: str | None = None
    target_value: Decimal | None = None
    target_unit: str | None = None
    current_value: Decimal | None = None
    achieved_at: datetime | None = None
    last_reviewed_at: datetime | None = None
    ordering: int | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskView:
    id: uuid.UUID
    care_plan_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    title: str | None = None
    description: str | None = None
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    intent: str | None = None
    assignee_id: uuid.UUID | None = None
    assignee_role: str | None = None
    due_at: datetime | None = None
    priority: str | None = None
    status: str | None = None
    status_reason: str | None = None
    completed_at: datetime | None = None
    completed_by_id: uuid.UUID | None = None
    note: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
