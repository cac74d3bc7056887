"""createTask, updateTask, updateGoal and applyCarePlanTemplate."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.mutations.common import mutation, parse_id, require_id
from backend.api.types.careplans import CarePlan, Goal, Task
from backend.api.types.common import from_view
from backend.careplans.applying import apply_care_plan_template
from backend.careplans.changes import (
    UNCHANGED,
    NewTask,
    TaskChanges,
    create_task,
    update_goal,
    update_task,
)


@strawberry.input(description="A new task for a patient.")
class CreateTaskInput:
    patient_id: strawberry.ID
    title: str
    description: str | None = None
    due_at: datetime | None = None
    assignee_id: strawberry.ID | None = None
    assignee_role: str | None = strawberry.field(
        default=None, description="A care-team role: nurse, therapist, care_coordinator ..."
    )
    priority: str | None = strawberry.field(default=None, description="routine (default) ...")
    status: str | None = strawberry.field(default=None, description="requested (default) ...")
    care_plan_id: strawberry.ID | None = None
    goal_id: strawberry.ID | None = None


@strawberry.input(description="Changes to a task; fields left out keep their value, null clears.")
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    assignee_id: strawberry.ID | None = strawberry.UNSET
    assignee_role: str | None = strawberry.UNSET
    priority: str | None = strawberry.UNSET
    status: str | None = strawberry.UNSET
    status_reason: str | None = strawberry.UNSET


def _given(value: Any) -> Any:
    return UNCHANGED if value is strawberry.UNSET else value


@strawberry.type
class CarePlanMutations:
    @mutation("Create a task for a patient, optionally on one of their care plans or goals.")
    async def create_task(self, info: Info[ApiContext, None], input: CreateTaskInput) -> Task:
        ctx = info.context
        principal = ctx.caller
        data = NewTask(
            patient_id=require_id(input.patient_id, "patientId"),
            title=input.title,
            description=input.description,
            due_at=input.due_at,
            assignee_id=parse_id(input.assignee_id, "assigneeId"),
            assignee_role=input.assignee_role,
            priority=input.priority,
            status=input.status,
            care_plan_id=parse_id(input.care_plan_id, "carePlanId"),
            goal_id=parse_id(input.goal_id, "goalId"),
        )
        view = await ctx.change(
            principal,
            lambda c: create_task(
                **c,
                data=data,
            ),
        )
        return from_view(Task, view)

    @mutation(
        "Change a task. `version` is the one you read: if the task changed since, the "
        "answer is CONFLICT and nothing is written."
    )
    async def update_task(
        self, info: Info[ApiContext, None], id: strawberry.ID, version: int, input: UpdateTaskInput
    ) -> Task:
        ctx = info.context
        principal = ctx.caller
        task_id = require_id(id, "id")
        assignee = _given(input.assignee_id)
        data = TaskChanges(
            title=_given(input.title),
            description=_given(input.description),
            due_at=_given(input.due_at),
            assignee_id=assignee
            if assignee in (UNCHANGED, None)
            else require_id(assignee, "assigneeId"),
            assignee_role=_given(input.assignee_role),
            priority=_given(input.priority),
            status=_given(input.status),
            status_reason=_given(input.status_reason),
        )
        view = await ctx.change(
            principal,
            lambda c: update_task(
                **c,
                task_id=task_id,
                version=version,
                data=data,
            ),
        )
        return from_view(Task, view)

    @mutation(
        "Update a goal's lifecycle status, progress (0-100) and achievement. `version` is "
        "the one you read: a stale one is CONFLICT and nothing is written."
    )
    async def update_goal(
        self,
        info: Info[ApiContext, None],
        id: strawberry.ID,
        version: int,
        status: str | None = None,
        progress: int | None = None,
        achievement_status: str | None = None,
    ) -> Goal:
        ctx = info.context
        principal = ctx.caller
        goal_id = require_id(id, "id")
        view = await ctx.change(
            principal,
            lambda c: update_goal(
                **c,
                goal_id=goal_id,
                version=version,
                status=status,
                progress=progress,
                achievement_status=achievement_status,
            ),
        )
        return from_view(Goal, view)

    @mutation(
        "Give a patient an active care plan made from a template: its goals, benefits and "
        "tasks dated from startOn, all in one transaction."
    )
    async def apply_care_plan_template(
        self,
        info: Info[ApiContext, None],
        patient_id: strawberry.ID,
        template_id: strawberry.ID,
        start_on: date,
    ) -> CarePlan:
        ctx = info.context
        principal = ctx.caller
        patient = require_id(patient_id, "patientId")
        template = require_id(template_id, "templateId")
        view = await ctx.change(
            principal,
            lambda c: apply_care_plan_template(
                **c,
                patient_id=patient,
                template_id=template,
                start_on=start_on,
            ),
        )
        return from_view(CarePlan, view, patient_id=patient)
