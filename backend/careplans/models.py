"""Care plans of patients: plans, goals and milestones, benefits and their use, cases, tasks.

A plan is usually made from a :class:`CarePlanTemplate` (see :mod:`backend.careplans.planning`)
and keeps a link to every template row it came from, so a programme can later report how
its patients are doing against the template. Template models live in
:mod:`backend.careplans.templates` and are re-exported here so ``backend.models`` sees them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    CarePlanIntent,
    CarePlanStatus,
    CaseKind,
    CaseStatus,
    Comparator,
    GoalAchievementStatus,
    GoalCategory,
    GoalLifecycleStatus,
    GoalPriority,
    Priority,
    TaskStatus,
)
from backend.careplans.templates import (
    CarePlanTemplate,
    TemplateBenefit,
    TemplateGoal,
    TemplateTask,
)
from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code
from backend.db import Base
from backend.organization.models import CareTeamRole

__all__ = [
    "Benefit",
    "BenefitUtilization",
    "CarePlan",
    "CarePlanTemplate",
    "Case",
    "Goal",
    "Task",
    "TemplateBenefit",
    "TemplateGoal",
    "TemplateTask",
]


class CarePlan(PatientRecord, Base):
    """One patient's plan of care (FHIR CarePlan).

    ``period_start``/``period_end`` are dates: plans are planned in days, and goal and
    benefit dates are computed from the start. ``addressed_condition_ids`` keeps the
    Condition ids of CarePlan.addresses without a foreign key into the clinical domain.
    """

    __tablename__ = "care_plan"
    __extra_table_args__ = (
        CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start",
            name="period_ordered",
        ),
    )

    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_plan_template.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[CarePlanStatus] = mapped_column(default=CarePlanStatus.DRAFT, index=True)
    intent: Mapped[CarePlanIntent] = mapped_column(default=CarePlanIntent.PLAN)
    # FHIR CarePlan.category, e.g. US Core careplan-category "assess-plan".
    category: Mapped[Code] = coded("category", nullable=True)
    period_start: Mapped[date | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)
    care_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_team.id", ondelete="SET NULL"), default=None, index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    # CarePlan.replaces: the plan this one revises.
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_plan.id", ondelete="SET NULL"), default=None
    )
    addressed_condition_ids: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # --- FHIR round-trip -----------------------------------------------------------------
    # CarePlan.category[] in full (Synthea sends US Core assess-plan plus a SNOMED plan
    # type); ``category`` keeps the first Coding.
    category_concepts: Mapped[list[Any] | None] = mapped_column(default=None)
    # CarePlan.activity[] that did not become a Task, Goal or Benefit row, as FHIR JSON
    # (detail.code, status, location, reasonCode ...): imported plans list activities
    # rather than assignable work.
    activities: Mapped[list[Any] | None] = mapped_column(default=None)

    goals: Mapped[list[Goal]] = relationship(lazy="raise", back_populates="care_plan")
    benefits: Mapped[list[Benefit]] = relationship(lazy="raise", back_populates="care_plan")
    tasks: Mapped[list[Task]] = relationship(lazy="raise", back_populates="care_plan")


class Goal(PatientRecord, Base):
    """A goal or milestone of a patient (FHIR Goal; milestones are Goals whose
    ``parent_goal_id`` is set, exported with an extension pointing at the parent).

    ``care_plan_id`` is nullable because FHIR Goals may arrive without a CarePlan.
    ``current_value`` is the latest measured value of ``measure`` so lists can show
    progress without reading observations.
    """

    __tablename__ = "goal"
    __extra_table_args__ = (
        CheckConstraint(
            "progress_percent >= 0 AND progress_percent <= 100", name="progress_percent_range"
        ),
        CheckConstraint("parent_goal_id IS NULL OR parent_goal_id <> id", name="not_own_parent"),
    )

    care_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_plan.id", ondelete="CASCADE"), default=None, index=True
    )
    parent_goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("goal.id", ondelete="CASCADE"), default=None, index=True
    )
    template_goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("template_goal.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[GoalCategory | None] = mapped_column(default=None)
    priority: Mapped[GoalPriority | None] = mapped_column(default=None)
    lifecycle_status: Mapped[GoalLifecycleStatus] = mapped_column(
        default=GoalLifecycleStatus.PROPOSED, index=True
    )
    achievement_status: Mapped[GoalAchievementStatus | None] = mapped_column(default=None)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    progress_percent: Mapped[int] = mapped_column(default=0)
    start_date: Mapped[date | None] = mapped_column(default=None)
    target_date: Mapped[date | None] = mapped_column(default=None)
    measure_text: Mapped[str | None] = mapped_column(String(200), default=None)
    measure: Mapped[Code] = coded("measure", nullable=True)
    target_comparator: Mapped[Comparator | None] = mapped_column(default=None)
    target_value: Mapped[Decimal | None] = mapped_column(default=None)
    target_unit: Mapped[str | None] = mapped_column(String(32), default=None)
    current_value: Mapped[Decimal | None] = mapped_column(default=None)
    achieved_at: Mapped[datetime | None] = mapped_column(default=None)
    last_reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    ordering: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(Text, default=None)

    care_plan: Mapped[CarePlan | None] = relationship(lazy="raise", back_populates="goals")
    parent: Mapped[Goal | None] = relationship(
        lazy="raise", remote_side="Goal.id", back_populates="milestones"
    )
    milestones: Mapped[list[Goal]] = relationship(lazy="raise", back_populates="parent")


class Benefit(PatientRecord, Base):
    """A support granted to a patient under a plan, with its limits (no FHIR resource of
    its own: exported as a CarePlan.activity whose limits travel as extensions).

    Same limit semantics as :class:`TemplateBenefit`; ``valid_from``/``valid_to`` are
    always concrete dates here. :func:`backend.careplans.planning.benefit_allows` checks
    a new use against them.
    """

    __tablename__ = "benefit"
    __extra_table_args__ = (
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name="window_ordered",
        ),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        CheckConstraint("amount_limit IS NULL OR amount_limit >= 0", name="amount_not_negative"),
    )

    care_plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_plan.id", ondelete="CASCADE"), index=True
    )
    template_benefit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("template_benefit.id", ondelete="SET NULL"), default=None, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[BenefitCategory] = mapped_column(default=BenefitCategory.OTHER)
    valid_from: Mapped[date | None] = mapped_column(default=None)
    valid_to: Mapped[date | None] = mapped_column(default=None)
    amount_limit: Mapped[Decimal | None] = mapped_column(default=None)
    max_uses: Mapped[int | None] = mapped_column(default=None)
    per_period: Mapped[BenefitPeriod] = mapped_column(default=BenefitPeriod.PLAN)
    unit: Mapped[str | None] = mapped_column(String(32), default=None)
    active: Mapped[bool] = mapped_column(default=True)  # False: suspended by staff
    note: Mapped[str | None] = mapped_column(Text, default=None)

    care_plan: Mapped[CarePlan] = relationship(lazy="raise", back_populates="benefits")
    utilizations: Mapped[list[BenefitUtilization]] = relationship(
        lazy="raise", back_populates="benefit"
    )


class BenefitUtilization(PatientRecord, Base):
    """One use of a benefit: a voucher handed out, a stipend paid, a session held.

    ``units`` is what counts against ``max_uses`` (two bus passes at once: 2).
    """

    __tablename__ = "benefit_utilization"
    __extra_table_args__ = (
        CheckConstraint("units > 0", name="units_positive"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
    )

    benefit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("benefit.id", ondelete="CASCADE"), index=True
    )
    used_on: Mapped[date]
    amount: Mapped[Decimal | None] = mapped_column(default=None)
    units: Mapped[int] = mapped_column(default=1)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )

    benefit: Mapped[Benefit] = relationship(lazy="raise", back_populates="utilizations")


class Case(PatientRecord, Base):
    """A piece of work about a patient that spans several tasks: an intake, a billing
    dispute, a crisis (FHIR EpisodeOfCare for care episodes, else a Task with subtasks).

    Table ``patient_case``: ``case`` is an SQL keyword every hand-written query would
    have to quote.
    """

    __tablename__ = "patient_case"
    __extra_table_args__ = (
        Index("ix_patient_case_status_priority", "status", "priority"),
        CheckConstraint("closed_at IS NULL OR closed_at >= opened_at", name="closed_after_opened"),
    )

    kind: Mapped[CaseKind]
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[CaseStatus] = mapped_column(default=CaseStatus.OPEN)
    priority: Mapped[Priority] = mapped_column(default=Priority.ROUTINE)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    care_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_team.id", ondelete="SET NULL"), default=None, index=True
    )
    care_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_plan.id", ondelete="SET NULL"), default=None, index=True
    )
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str | None] = mapped_column(Text, default=None)

    tasks: Mapped[list[Task]] = relationship(lazy="raise", back_populates="case")


class Task(PatientRecord, Base):
    """Work someone must do for a patient (FHIR Task).

    Assigned to a person (``assignee_id``), to a care-team role (``assignee_role``: whoever
    holds it on the patient's team picks it up), or both.
    """

    __tablename__ = "task"
    __extra_table_args__ = (
        # Worklists: "my open tasks by due date", "overdue tasks of this team".
        Index("ix_task_assignee_id_status_due_at", "assignee_id", "status", "due_at"),
        Index("ix_task_status_due_at", "status", "due_at"),
    )

    care_plan_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_plan.id", ondelete="CASCADE"), default=None, index=True
    )
    goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("goal.id", ondelete="SET NULL"), default=None, index=True
    )
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient_case.id", ondelete="SET NULL"), default=None, index=True
    )
    template_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("template_task.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    code: Mapped[Code] = coded("code", nullable=True)  # FHIR Task.code
    intent: Mapped[str] = mapped_column(String(32), default="order")  # FHIR Task.intent
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    assignee_role: Mapped[CareTeamRole | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    priority: Mapped[Priority] = mapped_column(default=Priority.ROUTINE)
    status: Mapped[TaskStatus] = mapped_column(default=TaskStatus.REQUESTED)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str | None] = mapped_column(Text, default=None)

    care_plan: Mapped[CarePlan | None] = relationship(lazy="raise", back_populates="tasks")
    case: Mapped[Case | None] = relationship(lazy="raise", back_populates="tasks")
