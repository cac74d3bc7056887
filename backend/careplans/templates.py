"""Care-plan templates: the reusable programme a patient's plan is made from.

A template holds goals (top-level goals and their milestones), benefits and default tasks,
all dated by offsets from the plan's start; :func:`backend.careplans.planning.plan_from_template`
turns them into dated records for one patient. Import these classes from
:mod:`backend.careplans.models`.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    Comparator,
    GoalCategory,
    Priority,
    TemplateStatus,
)
from backend.common.columns import coded
from backend.common.mixins import Tracked
from backend.common.types import Code, Sensitivity
from backend.db import Base
from backend.organization.models import CareTeamRole


class CarePlanTemplate(Tracked, Base):
    """A programme's standard plan (FHIR PlanDefinition, type clinical-protocol).

    ``name`` + ``template_version`` identify it (PlanDefinition.version; ``version`` is
    taken by optimistic locking); a revised programme is a new template row so plans made
    from the old one keep pointing at what they were made from.
    """

    __tablename__ = "care_plan_template"
    __extra_table_args__ = (
        UniqueConstraint("name", "template_version"),
        CheckConstraint("duration_days IS NULL OR duration_days > 0", name="duration_positive"),
    )

    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200), default=None)  # patient-facing
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # Same vocabulary as CareTeam.program ("outpatient", "iop", "alumni" ...).
    program: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    template_version: Mapped[str] = mapped_column(String(32), default="1")
    status: Mapped[TemplateStatus] = mapped_column(default=TemplateStatus.DRAFT, index=True)
    duration_days: Mapped[int | None] = mapped_column(default=None)
    # The condition the programme treats (ICD-10 / SNOMED): PlanDefinition.useContext.
    condition: Mapped[Code] = coded("condition", nullable=True)
    # Labels every record made from the template inherits (a SUD programme: PART2).
    default_sensitivity: Mapped[Sensitivity] = mapped_column(default=Sensitivity.NONE)
    publisher: Mapped[str | None] = mapped_column(String(200), default=None)

    goals: Mapped[list[TemplateGoal]] = relationship(lazy="raise", back_populates="template")
    benefits: Mapped[list[TemplateBenefit]] = relationship(lazy="raise", back_populates="template")
    tasks: Mapped[list[TemplateTask]] = relationship(lazy="raise", back_populates="template")


class TemplateGoal(Tracked, Base):
    """A goal or milestone of a template (PlanDefinition.goal).

    ``parent_goal_id`` makes milestones: intermediate goals a top-level goal is reached
    through. ``target_offset_days`` counts from the plan's start; a goal without one is due
    when its last milestone is.
    """

    __tablename__ = "template_goal"
    __extra_table_args__ = (
        CheckConstraint("parent_goal_id IS NULL OR parent_goal_id <> id", name="not_own_parent"),
        CheckConstraint(
            "target_offset_days IS NULL OR target_offset_days >= 0", name="offset_not_negative"
        ),
    )

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_plan_template.id", ondelete="CASCADE"), index=True
    )
    parent_goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("template_goal.id", ondelete="CASCADE"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    category: Mapped[GoalCategory | None] = mapped_column(default=None)
    target_offset_days: Mapped[int | None] = mapped_column(default=None)
    # The measure as people say it ("PHQ-9 < 10"), then as machines can check it.
    measure_text: Mapped[str | None] = mapped_column(String(200), default=None)
    measure: Mapped[Code] = coded("measure", nullable=True)  # usually LOINC
    target_comparator: Mapped[Comparator | None] = mapped_column(default=None)
    target_value: Mapped[Decimal | None] = mapped_column(default=None)
    target_unit: Mapped[str | None] = mapped_column(String(32), default=None)  # UCUM
    ordering: Mapped[int] = mapped_column(default=0)

    template: Mapped[CarePlanTemplate] = relationship(lazy="raise", back_populates="goals")
    parent: Mapped[TemplateGoal | None] = relationship(
        lazy="raise", remote_side="TemplateGoal.id", back_populates="milestones"
    )
    milestones: Mapped[list[TemplateGoal]] = relationship(lazy="raise", back_populates="parent")


class TemplateBenefit(Tracked, Base):
    """A support the programme grants, with its limits (PlanDefinition.action of a
    service; no FHIR resource models the limits, they travel as extensions).

    The validity window is either relative to the plan's start (``valid_*_offset_days``)
    or an absolute date range (``valid_from``/``valid_to``), never both. ``max_uses`` and
    ``amount_limit`` are counted per ``per_period`` window (see
    :class:`~backend.careplans.enums.BenefitPeriod`).
    """

    __tablename__ = "template_benefit"
    __extra_table_args__ = (
        CheckConstraint(
            "(valid_from_offset_days IS NULL AND valid_to_offset_days IS NULL)"
            " OR (valid_from IS NULL AND valid_to IS NULL)",
            name="relative_or_absolute_window",
        ),
        CheckConstraint(
            "valid_to_offset_days IS NULL OR valid_from_offset_days IS NULL"
            " OR valid_to_offset_days >= valid_from_offset_days",
            name="offset_window_ordered",
        ),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from",
            name="date_window_ordered",
        ),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        CheckConstraint("amount_limit IS NULL OR amount_limit >= 0", name="amount_not_negative"),
    )

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_plan_template.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[BenefitCategory] = mapped_column(default=BenefitCategory.OTHER)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    valid_from_offset_days: Mapped[int | None] = mapped_column(default=None)
    valid_to_offset_days: Mapped[int | None] = mapped_column(default=None)
    valid_from: Mapped[date | None] = mapped_column(default=None)
    valid_to: Mapped[date | None] = mapped_column(default=None)
    amount_limit: Mapped[Decimal | None] = mapped_column(default=None)
    max_uses: Mapped[int | None] = mapped_column(default=None)
    per_period: Mapped[BenefitPeriod] = mapped_column(default=BenefitPeriod.PLAN)
    unit: Mapped[str | None] = mapped_column(String(32), default=None)  # "voucher", "session"
    ordering: Mapped[int] = mapped_column(default=0)

    template: Mapped[CarePlanTemplate] = relationship(lazy="raise", back_populates="benefits")


class TemplateTask(Tracked, Base):
    """A default task of the programme (PlanDefinition.action), assigned by care-team
    role because the person is only known once a patient has a team."""

    __tablename__ = "template_task"
    __extra_table_args__ = (
        CheckConstraint(
            "due_offset_days IS NULL OR due_offset_days >= 0", name="offset_not_negative"
        ),
    )

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_plan_template.id", ondelete="CASCADE"), index=True
    )
    goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("template_goal.id", ondelete="SET NULL"), default=None, index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    due_offset_days: Mapped[int | None] = mapped_column(default=None)
    assignee_role: Mapped[CareTeamRole | None] = mapped_column(default=None)
    priority: Mapped[Priority] = mapped_column(default=Priority.ROUTINE)
    ordering: Mapped[int] = mapped_column(default=0)

    template: Mapped[CarePlanTemplate] = relationship(lazy="raise", back_populates="tasks")
