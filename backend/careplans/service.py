"""Care plan use cases for every transport (reads through the shared access path).

Goals and tasks are listed per patient, like plans, so a transport nests them under
their plan in memory: three queries for any number of plans.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.careplans.models import CarePlan, Goal, Task
from backend.careplans.records import CarePlanView, GoalView, TaskView


def list_care_plans(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[CarePlanView]] | None:
    """Each patient's care plans, newest first; None when care plans are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=CarePlan,
        view=CarePlanView,
        patient_ids=patient_ids,
        order_by=(CarePlan.effective_at.desc(), CarePlan.id),
        log=log,
        now=now,
    )


def list_goals(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[GoalView]] | None:
    """Each patient's goals in plan order; None when care plans are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Goal,
        view=GoalView,
        patient_ids=patient_ids,
        order_by=(Goal.ordering, Goal.id),
        log=log,
        now=now,
    )


def list_tasks(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[TaskView]] | None:
    """Each patient's tasks, soonest due first; None when care plans are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Task,
        view=TaskView,
        patient_ids=patient_ids,
        order_by=(Task.due_at, Task.id),
        log=log,
        now=now,
    )
