"""Value sets of the careplans domain.

Kept apart from the models so :mod:`backend.careplans.planning` (pure functions, no
database) and the models share them without the planner importing SQLAlchemy mappings.
Values follow FHIR R4 codes with hyphens turned into underscores (``in-progress`` ->
``in_progress``); exporters map them back.
"""

from __future__ import annotations

import enum


class TemplateStatus(enum.StrEnum):
    """FHIR PublicationStatus of a PlanDefinition."""

    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class GoalCategory(enum.StrEnum):
    """What a goal is about; FHIR Goal.category (local codes, behavioural-health flavoured)."""

    SYMPTOM = "symptom"  # measured symptom reduction (PHQ-9, GAD-7, PCL-5 ...)
    RECOVERY = "recovery"  # abstinence, relapse prevention, MOUD adherence
    SAFETY = "safety"  # safety plan, means restriction, crisis readiness
    ENGAGEMENT = "engagement"  # attendance, participation in treatment
    SOCIAL = "social"  # housing, support network, legal
    FUNCTIONAL = "functional"  # work, school, daily living
    WELLNESS = "wellness"  # sleep, exercise, nutrition
    MEDICATION = "medication"  # adherence to a prescribed regimen


class BenefitCategory(enum.StrEnum):
    TRANSPORTATION = "transportation"
    HOUSING = "housing"
    PEER_SUPPORT = "peer_support"
    FINANCIAL = "financial"
    FOOD = "food"
    CHILDCARE = "childcare"
    HARM_REDUCTION = "harm_reduction"
    EMPLOYMENT = "employment"
    OTHER = "other"


class BenefitPeriod(enum.StrEnum):
    """The window a benefit's ``max_uses`` and ``amount_limit`` are counted over.

    Calendar windows (ISO week from Monday, calendar month), not rolling ones: that is how
    programs budget vouchers and how staff explain a refusal to a patient.
    """

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    PLAN = "plan"  # the whole validity window of the benefit


class Priority(enum.StrEnum):
    """FHIR request-priority, used by tasks and cases."""

    ROUTINE = "routine"
    URGENT = "urgent"
    ASAP = "asap"
    STAT = "stat"


class CarePlanStatus(enum.StrEnum):
    """FHIR CarePlan.status (entered-in-error is a soft delete here; unknown is NULL-free)."""

    DRAFT = "draft"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    REVOKED = "revoked"


class CarePlanIntent(enum.StrEnum):
    """FHIR CarePlan.intent."""

    PROPOSAL = "proposal"
    PLAN = "plan"
    ORDER = "order"
    OPTION = "option"


class GoalLifecycleStatus(enum.StrEnum):
    """FHIR Goal.lifecycleStatus."""

    PROPOSED = "proposed"
    PLANNED = "planned"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # FHIR has it; kept so imports lose nothing


class GoalAchievementStatus(enum.StrEnum):
    """FHIR Goal.achievementStatus (goal-achievement value set)."""

    IN_PROGRESS = "in_progress"
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no_change"
    ACHIEVED = "achieved"
    SUSTAINING = "sustaining"
    NOT_ACHIEVED = "not_achieved"
    NO_PROGRESS = "no_progress"
    NOT_ATTAINABLE = "not_attainable"


class GoalPriority(enum.StrEnum):
    """FHIR Goal.priority (goal-priority value set)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Comparator(enum.StrEnum):
    """How a measured value is compared with a goal's target (FHIR Quantity.comparator,
    plus equality)."""

    LT = "lt"
    LE = "le"
    EQ = "eq"
    GE = "ge"
    GT = "gt"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]


_SYMBOLS = {
    Comparator.LT: "<",
    Comparator.LE: "<=",
    Comparator.EQ: "=",
    Comparator.GE: ">=",
    Comparator.GT: ">",
}


class CaseKind(enum.StrEnum):
    INTAKE = "intake"
    CARE_COORDINATION = "care_coordination"
    BILLING_ISSUE = "billing_issue"
    COMPLAINT = "complaint"
    CRISIS = "crisis"
    AFTERCARE = "aftercare"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the patient or a third party
    RESOLVED = "resolved"  # work done, awaiting confirmation or review
    CLOSED = "closed"


class TaskStatus(enum.StrEnum):
    """FHIR Task.status. The brief's seven plus draft/received/accepted/rejected, which
    FHIR workflows use and imports must not lose."""

    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    READY = "ready"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """Still someone's work: counts towards worklists and 'overdue'."""
        return self not in _CLOSED_TASK_STATUSES


_CLOSED_TASK_STATUSES = frozenset(
    {TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED, TaskStatus.REJECTED}
)
