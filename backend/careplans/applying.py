"""Apply a care-plan template to a patient: one plan with its goals, benefits and tasks.

The template rows become planner specs, :func:`~backend.careplans.planning.plan_from_template`
dates them from ``start_on``, and everything is written in the caller's transaction
(all of it or none). Tasks assigned by care-team role go to the member holding that role
on the patient's team, when there is one; the plan inherits the template's sensitivity
labels (a substance-use programme's plan is a Part 2 record).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import (
    audit_change,
    flush_changes,
    require_patient,
    require_write,
    written_view,
)
from backend.careplans.enums import CarePlanIntent, CarePlanStatus, TemplateStatus
from backend.careplans.models import (
    Benefit,
    CarePlan,
    CarePlanTemplate,
    Goal,
    Task,
    TemplateBenefit,
    TemplateGoal,
    TemplateTask,
)
from backend.careplans.planning import (
    BenefitSpec,
    GoalSpec,
    PlanDraft,
    PlanningError,
    TaskSpec,
    plan_from_template,
)
from backend.careplans.records import CarePlanView
from backend.common.errors import InvalidInput
from backend.common.mixins import utcnow
from backend.common.types import Sensitivity
from backend.organization.models import CareTeam, CareTeamMember, CareTeamPatient, CareTeamRole

MAX_START_DISTANCE = timedelta(days=366)
"""How far from today a plan may start: backdating an admission, or planning ahead."""

PLAN_FIELDS = [
    "patient_id",
    "template_id",
    "title",
    "description",
    "status",
    "intent",
    "period_start",
    "period_end",
    "care_team_id",
    "created_by_id",
    "author_id",
    "sensitivity",
    "effective_at",
]
GOAL_FIELDS = [
    "patient_id",
    "care_plan_id",
    "parent_goal_id",
    "template_goal_id",
    "title",
    "description",
    "category",
    "lifecycle_status",
    "start_date",
    "target_date",
    "measure_text",
    "measure_system",
    "measure_code",
    "measure_display",
    "target_comparator",
    "target_value",
    "target_unit",
    "ordering",
    "author_id",
    "sensitivity",
    "effective_at",
]
BENEFIT_FIELDS = [
    "patient_id",
    "care_plan_id",
    "template_benefit_id",
    "name",
    "category",
    "valid_from",
    "valid_to",
    "amount_limit",
    "max_uses",
    "per_period",
    "unit",
    "author_id",
    "sensitivity",
    "effective_at",
]
TASK_FIELDS = [
    "patient_id",
    "care_plan_id",
    "goal_id",
    "template_task_id",
    "title",
    "description",
    "assignee_id",
    "assignee_role",
    "due_at",
    "priority",
    "status",
    "author_id",
    "sensitivity",
    "effective_at",
]
CHANGES = {
    "CarePlan": PLAN_FIELDS,
    "Goal": GOAL_FIELDS,
    "Benefit": BENEFIT_FIELDS,
    "Task": TASK_FIELDS,
}


def _template(session: Session, template_id: uuid.UUID) -> CarePlanTemplate:
    template = session.execute(
        select(CarePlanTemplate).where(
            CarePlanTemplate.id == template_id,
            CarePlanTemplate.status == TemplateStatus.ACTIVE,
            CarePlanTemplate.deleted_at.is_(None),
        )
    ).scalar_one_or_none()
    if template is None:
        raise InvalidInput("template_id", "is not an active care plan template")
    return template


def _draft(session: Session, template: CarePlanTemplate, start_on: date) -> PlanDraft:
    def rows(model: type[TemplateGoal] | type[TemplateBenefit] | type[TemplateTask]) -> list:  # type: ignore[type-arg]
        return list(
            session.execute(
                select(model)
                .where(model.template_id == template.id, model.deleted_at.is_(None))
                .order_by(model.ordering, model.id)
            ).scalars()
        )

    try:
        return plan_from_template(
            start=start_on,
            goals=[GoalSpec.from_row(r) for r in rows(TemplateGoal)],
            benefits=[BenefitSpec.from_row(r) for r in rows(TemplateBenefit)],
            tasks=[TaskSpec.from_row(r) for r in rows(TemplateTask)],
            duration_days=template.duration_days,
        )
    except PlanningError as exc:
        raise InvalidInput("template_id", f"cannot be applied: {exc}") from None


def _team(
    session: Session, principal: Principal, patient_id: uuid.UUID, today: date
) -> tuple[uuid.UUID | None, dict[CareTeamRole, uuid.UUID]]:
    """The patient's care team (the caller's own, if they share one) and who holds
    each role on it today."""
    teams = list(
        session.execute(
            select(CareTeamPatient.care_team_id)
            .join(CareTeam, CareTeam.id == CareTeamPatient.care_team_id)
            .where(
                CareTeamPatient.patient_id == patient_id,
                CareTeamPatient.deleted_at.is_(None),
                CareTeam.active.is_(True),
                (CareTeamPatient.start_date.is_(None)) | (CareTeamPatient.start_date <= today),
                (CareTeamPatient.end_date.is_(None)) | (CareTeamPatient.end_date >= today),
            )
            .order_by(CareTeamPatient.care_team_id)
        ).scalars()
    )
    if not teams:
        return None, {}
    shared = [t for t in teams if t in principal.care_team_ids]
    team_id = (shared or teams)[0]
    members = session.execute(
        select(CareTeamMember.role, CareTeamMember.staff_user_id)
        .where(
            CareTeamMember.care_team_id == team_id,
            CareTeamMember.deleted_at.is_(None),
            (CareTeamMember.start_date.is_(None)) | (CareTeamMember.start_date <= today),
            (CareTeamMember.end_date.is_(None)) | (CareTeamMember.end_date >= today),
        )
        .order_by(CareTeamMember.role, CareTeamMember.staff_user_id)
    ).all()
    holders: dict[CareTeamRole, uuid.UUID] = {}
    for role, staff_id in members:
        holders.setdefault(role, staff_id)
    return team_id, holders


def apply_care_plan_template(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    template_id: uuid.UUID,
    start_on: date,
    request_id: str | None = None,
    now: datetime | None = None,
) -> CarePlanView:
    """Make the patient an active plan from an active template, starting ``start_on``."""
    now = now or utcnow()
    require_write(policy=policy, principal=principal, changes=CHANGES)
    if abs(start_on - now.date()) > MAX_START_DISTANCE:
        raise InvalidInput("start_on", "must be within a year of today")
    require_patient(session=session, principal=principal, patient_id=patient_id, now=now)
    template = _template(session, template_id)
    draft = _draft(session, template, start_on)
    team_id, holders = _team(session, principal, patient_id, now.date())
    common = {
        "patient_id": patient_id,
        "author_id": principal.subject_id,
        "sensitivity": Sensitivity(template.default_sensitivity),
        "effective_at": now,
    }
    plan = CarePlan(
        id=uuid.uuid4(),
        template_id=template.id,
        title=template.title or template.name,
        description=template.description,
        status=CarePlanStatus.ACTIVE,
        intent=CarePlanIntent.PLAN,
        period_start=draft.start,
        period_end=draft.end,
        care_team_id=team_id,
        created_by_id=principal.subject_id,
        **common,
    )
    session.add(plan)
    # Parents before milestones and goals before tasks: the flush inserts in add order.
    for g in draft.goals:
        session.add(
            Goal(
                id=g.id,
                care_plan_id=plan.id,
                parent_goal_id=g.parent_goal_id,
                template_goal_id=g.template_goal_id,
                title=g.title,
                description=g.description,
                category=g.category,
                start_date=g.start_date,
                target_date=g.target_date,
                measure_text=g.measure_text,
                measure=g.measure,
                target_comparator=g.target_comparator,
                target_value=g.target_value,
                target_unit=g.target_unit,
                ordering=g.ordering,
                **common,
            )
        )
    for b in draft.benefits:
        session.add(
            Benefit(
                care_plan_id=plan.id,
                template_benefit_id=b.template_benefit_id,
                name=b.name,
                category=b.category,
                valid_from=b.valid_from,
                valid_to=b.valid_to,
                amount_limit=b.amount_limit,
                max_uses=b.max_uses,
                per_period=b.per_period,
                unit=b.unit,
                **common,
            )
        )
    for t in draft.tasks:
        due = t.due_date
        session.add(
            Task(
                care_plan_id=plan.id,
                goal_id=t.goal_id,
                template_task_id=t.template_task_id,
                title=t.title,
                description=t.description,
                assignee_role=t.assignee_role,
                assignee_id=holders.get(t.assignee_role) if t.assignee_role else None,
                # The clinic's timezone is not known here; noon UTC keeps the due date
                # the same calendar day from the Americas to Europe.
                due_at=datetime.combine(due, time(12), tzinfo=now.tzinfo) if due else None,
                priority=t.priority,
                **common,
            )
        )
    flush_changes(session)
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.CREATE,
        patient_id=patient_id,
        changes=CHANGES,
        request_id=request_id,
        now=now,
    )
    return written_view(
        session=session, principal=principal, policy=policy, row=plan, view=CarePlanView, now=now
    )
