"""Staff changes to tasks and goals: create and update a task, move a goal along.

Updates carry the ``version`` the caller read: a stale one is a Conflict and nothing is
written (see :mod:`backend.access.writes`). Fields left out of an update (``UNCHANGED``)
keep their value; ``None`` clears a clearable field.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import (
    audit_change,
    changed_fields,
    check_version,
    flush_changes,
    insert_record,
    load_for_update,
    require_patient,
    require_write,
    written_view,
)
from backend.accounts.models import StaffUser
from backend.careplans.enums import (
    GoalAchievementStatus,
    GoalLifecycleStatus,
    Priority,
    TaskStatus,
)
from backend.careplans.models import CarePlan, Goal, Task
from backend.careplans.records import GoalView, TaskView
from backend.common.errors import Problems
from backend.common.inputs import choice, moment, text, whole_number
from backend.common.mixins import utcnow
from backend.organization.models import CareTeam, CareTeamMember, CareTeamPatient, CareTeamRole

MAX_TITLE = 200
MAX_TEXT = 10_000


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED
"""An update field the caller did not send (distinct from ``None``, which clears)."""


@dataclass(frozen=True, slots=True)
class NewTask:
    patient_id: uuid.UUID
    title: str
    description: str | None = None
    due_at: datetime | None = None
    assignee_id: uuid.UUID | None = None
    assignee_role: str | None = None
    priority: str | None = None
    status: str | None = None
    care_plan_id: uuid.UUID | None = None
    goal_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class TaskChanges:
    title: str | _Unchanged = UNCHANGED
    description: str | _Unchanged | None = UNCHANGED
    due_at: datetime | _Unchanged | None = UNCHANGED
    assignee_id: uuid.UUID | _Unchanged | None = UNCHANGED
    assignee_role: str | _Unchanged | None = UNCHANGED
    priority: str | _Unchanged = UNCHANGED
    status: str | _Unchanged = UNCHANGED
    status_reason: str | _Unchanged | None = UNCHANGED


ASSIGNEE_PROBLEM = "is not an active staff member on this patient's care teams or yours"


def _assignable(
    session: Session,
    *,
    staff_id: uuid.UUID,
    patient_id: uuid.UUID,
    principal: Principal,
    now: datetime,
) -> bool:
    """An active staff member on a care team the patient is under today, or on one of
    the caller's own teams (a task handed to a colleague for a patient they will take
    on). Anyone else is refused: an assignee sees the task and is paged for it, so a
    task must not reach a stranger to the patient."""
    today = now.date()
    patient_teams = (
        select(CareTeamPatient.care_team_id)
        .join(CareTeam, CareTeam.id == CareTeamPatient.care_team_id)
        .where(
            CareTeamPatient.patient_id == patient_id,
            CareTeamPatient.deleted_at.is_(None),
            or_(CareTeamPatient.start_date.is_(None), CareTeamPatient.start_date <= today),
            or_(CareTeamPatient.end_date.is_(None), CareTeamPatient.end_date >= today),
            CareTeam.active.is_(True),
            CareTeam.deleted_at.is_(None),
        )
    )
    teams = or_(
        CareTeamMember.care_team_id.in_(patient_teams),
        CareTeamMember.care_team_id.in_(sorted(principal.care_team_ids)),
    )
    found = session.execute(
        select(CareTeamMember.id)
        .join(StaffUser, StaffUser.id == CareTeamMember.staff_user_id)
        .where(
            CareTeamMember.staff_user_id == staff_id,
            StaffUser.active.is_(True),
            CareTeamMember.deleted_at.is_(None),
            or_(CareTeamMember.start_date.is_(None), CareTeamMember.start_date <= today),
            or_(CareTeamMember.end_date.is_(None), CareTeamMember.end_date >= today),
            teams,
        )
        .limit(1)
    ).first()
    return found is not None


def _owned(session: Session, model: Any, record_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
    found = session.execute(
        select(model.id).where(
            model.id == record_id, model.patient_id == patient_id, model.deleted_at.is_(None)
        )
    ).first()
    return found is not None


def _completion(
    values: dict[str, Any], status: TaskStatus | None, principal: Principal, now: datetime
) -> None:
    """Completing a task stamps who and when; reopening it clears both."""
    if status is TaskStatus.COMPLETED:
        values["completed_at"] = now
        values["completed_by_id"] = principal.subject_id
    elif status is not None:
        values["completed_at"] = None
        values["completed_by_id"] = None


def create_task(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: NewTask,
    request_id: str | None = None,
    now: datetime | None = None,
) -> TaskView:
    """A new task for one patient, optionally on one of their care plans or goals."""
    now = now or utcnow()
    problems = Problems()
    values: dict[str, Any] = {
        "patient_id": data.patient_id,
        "title": text(problems, "title", data.title, max_chars=MAX_TITLE, required=True),
        "description": text(problems, "description", data.description, max_chars=MAX_TEXT),
        "due_at": moment(problems, "due_at", data.due_at, now=now),
        "assignee_id": data.assignee_id,
        "assignee_role": choice(problems, "assignee_role", data.assignee_role, CareTeamRole),
        "priority": choice(problems, "priority", data.priority, Priority) or Priority.ROUTINE,
        "status": choice(problems, "status", data.status, TaskStatus) or TaskStatus.REQUESTED,
        "care_plan_id": data.care_plan_id,
        "goal_id": data.goal_id,
        "author_id": principal.subject_id,
        "effective_at": now,
    }
    _completion(values, values["status"], principal, now)
    changes = {"Task": [k for k, v in values.items() if v is not None]}
    require_write(policy=policy, principal=principal, changes=changes)
    problems.raise_if_any()
    require_patient(session=session, principal=principal, patient_id=data.patient_id, now=now)
    if data.assignee_id is not None and not _assignable(
        session,
        staff_id=data.assignee_id,
        patient_id=data.patient_id,
        principal=principal,
        now=now,
    ):
        problems.add("assignee_id", ASSIGNEE_PROBLEM)
    for name, model, ref in (
        ("care_plan_id", CarePlan, data.care_plan_id),
        ("goal_id", Goal, data.goal_id),
    ):
        if ref is not None and not _owned(session, model, ref, data.patient_id):
            problems.add(name, "is not one of this patient's records")
    problems.raise_if_any()
    return insert_record(
        session=session,
        principal=principal,
        policy=policy,
        row=Task(**values),
        changes=changes,
        view=TaskView,
        request_id=request_id,
        now=now,
    )


def update_task(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    task_id: uuid.UUID,
    version: int,
    data: TaskChanges,
    request_id: str | None = None,
    now: datetime | None = None,
) -> TaskView:
    """Change a task's status, assignee, due time or title, if ``version`` is current."""
    now = now or utcnow()
    problems = Problems()
    values: dict[str, Any] = {}
    if data.title is not UNCHANGED:
        values["title"] = text(problems, "title", data.title, max_chars=MAX_TITLE, required=True)
    if data.description is not UNCHANGED:
        values["description"] = text(problems, "description", data.description, max_chars=MAX_TEXT)
    if data.due_at is not UNCHANGED:
        values["due_at"] = moment(problems, "due_at", data.due_at, now=now)
    if data.assignee_id is not UNCHANGED:
        values["assignee_id"] = data.assignee_id
    if data.assignee_role is not UNCHANGED:
        values["assignee_role"] = choice(
            problems, "assignee_role", data.assignee_role, CareTeamRole
        )
    if data.priority is not UNCHANGED:
        values["priority"] = choice(problems, "priority", data.priority, Priority)
        if data.priority is None:
            problems.add("priority", "cannot be cleared")
    status: TaskStatus | None = None
    if data.status is not UNCHANGED:
        status = choice(problems, "status", data.status, TaskStatus)
        if data.status is None:
            problems.add("status", "cannot be cleared")
        values["status"] = status
    if data.status_reason is not UNCHANGED:
        values["status_reason"] = text(
            problems, "status_reason", data.status_reason, max_chars=MAX_TEXT
        )
    if not values and not problems:
        problems.add("input", "nothing to change")
    require_write(policy=policy, principal=principal, changes={"Task": list(values)})
    problems.raise_if_any()
    row = load_for_update(
        session=session, principal=principal, model=Task, record_id=task_id, now=now
    )
    check_version(row, version)
    assignee = values.get("assignee_id")
    if assignee is not None and not _assignable(
        session, staff_id=assignee, patient_id=row.patient_id, principal=principal, now=now
    ):
        problems.add("assignee_id", ASSIGNEE_PROBLEM)
    problems.raise_if_any()
    if status is not None and status != row.status:
        _completion(values, status, principal, now)
    touched = changed_fields(row, values)
    if touched:
        require_write(policy=policy, principal=principal, changes={"Task": touched})
        for name in touched:
            setattr(row, name, values[name])
        flush_changes(session)
        audit_change(
            session=session,
            principal=principal,
            policy=policy,
            action=AuditAction.UPDATE,
            patient_id=row.patient_id,
            changes={"Task": touched},
            request_id=request_id,
            now=now,
        )
    return written_view(
        session=session, principal=principal, policy=policy, row=row, view=TaskView, now=now
    )


def update_goal(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    goal_id: uuid.UUID,
    version: int,
    status: str | None = None,
    progress: int | None = None,
    achievement_status: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> GoalView:
    """Move a goal along: lifecycle status, progress 0-100, achievement; the review is
    stamped now, and reaching ``achieved`` stamps when."""
    now = now or utcnow()
    problems = Problems()
    values: dict[str, Any] = {}
    if status is not None:
        values["lifecycle_status"] = choice(problems, "status", status, GoalLifecycleStatus)
    if progress is not None:
        values["progress_percent"] = whole_number(problems, "progress", progress, low=0, high=100)
    if achievement_status is not None:
        values["achievement_status"] = choice(
            problems, "achievement_status", achievement_status, GoalAchievementStatus
        )
    if not values and not problems:
        problems.add("status", "give a status, a progress or an achievement status")
    require_write(policy=policy, principal=principal, changes={"Goal": list(values)})
    problems.raise_if_any()
    row = load_for_update(
        session=session, principal=principal, model=Goal, record_id=goal_id, now=now
    )
    check_version(row, version)
    touched = changed_fields(row, values)
    if values.get("achievement_status") is GoalAchievementStatus.ACHIEVED and (
        "achievement_status" in touched
    ):
        values["achieved_at"] = now
        touched.append("achieved_at")
    values["last_reviewed_at"] = now
    touched.append("last_reviewed_at")
    require_write(policy=policy, principal=principal, changes={"Goal": touched})
    for name in touched:
        setattr(row, name, values[name])
    flush_changes(session)
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.UPDATE,
        patient_id=row.patient_id,
        changes={"Goal": touched},
        request_id=request_id,
        now=now,
    )
    return written_view(
        session=session, principal=principal, policy=policy, row=row, view=GoalView, now=now
    )
