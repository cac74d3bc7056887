"""plan_from_template and benefit_allows: pure functions, no database."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    Comparator,
    GoalCategory,
    Priority,
)
from backend.careplans.models import TemplateBenefit, TemplateGoal, TemplateTask
from backend.careplans.planning import (
    BenefitSpec,
    GoalSpec,
    PastUse,
    PlannedBenefit,
    PlanningError,
    TaskSpec,
    benefit_allows,
    period_window,
    plan_from_template,
)
from backend.careplans.starter import materialize
from backend.careplans.starter_templates import TEMPLATES, TemplateDef
from backend.common.types import Code, CodeSystem
from backend.organization.models import CareTeamRole

START = date(2026, 1, 5)  # a Monday
PHQ9 = Code(CodeSystem.LOINC, "44261-6", "PHQ-9 total score")


def counter_factory() -> tuple[list[uuid.UUID], Callable[[], uuid.UUID]]:
    made: list[uuid.UUID] = []

    def factory() -> uuid.UUID:
        made.append(uuid.UUID(int=len(made) + 1))
        return made[-1]

    return made, factory


def uid(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


MOOD, MOOD_M1, MOOD_M2, WORK, WORK_M1, WORK_M2, LONE = (uid(n) for n in range(7))


def template_goals() -> list[GoalSpec]:
    # Deliberately shuffled: milestones listed before their parents.
    return [
        GoalSpec(id=MOOD_M2, title="Six sessions", parent_goal_id=MOOD, target_offset_days=56),
        GoalSpec(id=WORK_M2, title="Graded return", parent_goal_id=WORK, target_offset_days=100),
        GoalSpec(
            id=MOOD,
            title="Reduce depression",
            category=GoalCategory.SYMPTOM,
            target_offset_days=90,
            measure_text="PHQ-9 < 10",
            measure=PHQ9,
            target_comparator=Comparator.LT,
            target_value=Decimal(10),
            target_unit="{score}",
            ordering=1,
        ),
        GoalSpec(id=MOOD_M1, title="PHQ-9 down 5", parent_goal_id=MOOD, target_offset_days=45),
        GoalSpec(id=WORK, title="Return to work", ordering=2),  # dated by its milestones
        GoalSpec(
            id=WORK_M1, title="Vocational counselor", parent_goal_id=WORK, target_offset_days=60
        ),
        GoalSpec(id=LONE, title="Sleep diary", ordering=3),  # no date at all
    ]


def test_goals_are_dated_from_the_start_and_parents_come_first() -> None:
    made, factory = counter_factory()
    draft = plan_from_template(start=START, goals=template_goals(), id_factory=factory)

    by_template = {g.template_goal_id: g for g in draft.goals}
    assert by_template[MOOD].target_date == START + timedelta(days=90)
    assert by_template[MOOD_M1].target_date == date(2026, 2, 19)
    assert by_template[MOOD_M2].target_date == START + timedelta(days=56)
    # A goal without an offset is due when its last milestone is; none at all stays None.
    assert by_template[WORK].target_date == START + timedelta(days=100)
    assert by_template[LONE].target_date is None

    order = [g.template_goal_id for g in draft.goals]
    assert order == [MOOD, MOOD_M1, MOOD_M2, WORK, WORK_M1, WORK_M2, LONE]
    assert [g.depth for g in draft.goals] == [0, 1, 1, 0, 1, 1, 0]
    # New ids everywhere; milestones point at their parent's new id.
    assert {g.id for g in draft.goals} == set(made)
    assert by_template[MOOD_M1].parent_goal_id == by_template[MOOD].id
    assert by_template[WORK_M2].parent_goal_id == by_template[WORK].id
    assert by_template[MOOD].parent_goal_id is None
    # Measures travel unchanged.
    mood = by_template[MOOD]
    assert (mood.measure, mood.target_comparator, mood.target_value) == (
        PHQ9,
        Comparator.LT,
        Decimal(10),
    )
    assert all(g.start_date == START for g in draft.goals)


def test_plan_end_comes_from_duration() -> None:
    assert plan_from_template(start=START, duration_days=84).end == date(2026, 3, 30)
    assert plan_from_template(start=START).end is None
    with pytest.raises(PlanningError):
        plan_from_template(start=START, duration_days=0)


def test_tasks_get_due_dates_and_their_goals_new_ids() -> None:
    tasks = [
        TaskSpec(id=uid(50), title="Undated", ordering=0),
        TaskSpec(
            id=uid(51),
            title="Plan review",
            goal_id=MOOD,
            due_offset_days=30,
            assignee_role=CareTeamRole.LEAD_CLINICIAN,
            priority=Priority.URGENT,
        ),
        TaskSpec(id=uid(52), title="Baseline PHQ-9", due_offset_days=0),
    ]
    draft = plan_from_template(start=START, goals=template_goals(), tasks=tasks)
    assert [t.title for t in draft.tasks] == ["Baseline PHQ-9", "Plan review", "Undated"]
    review = draft.tasks[1]
    mood_id = next(g.id for g in draft.goals if g.template_goal_id == MOOD)
    assert review.goal_id == mood_id
    assert review.due_date == date(2026, 2, 4)
    assert (review.assignee_role, review.priority) == (CareTeamRole.LEAD_CLINICIAN, Priority.URGENT)
    assert draft.tasks[0].due_date == START
    assert draft.tasks[2].due_date is None


def test_benefit_windows_relative_absolute_and_default() -> None:
    benefits = [
        BenefitSpec(id=uid(60), name="Stipend", valid_from_offset_days=14, valid_to_offset_days=84),
        BenefitSpec(id=uid(61), name="From start", valid_to_offset_days=30),
        BenefitSpec(id=uid(62), name="Whole plan"),
        BenefitSpec(
            id=uid(63),
            name="Events 2026",
            valid_from=date(2026, 1, 1),
            valid_to=date(2026, 12, 31),
        ),
    ]
    draft = plan_from_template(start=START, benefits=benefits, duration_days=90)
    windows = {b.name: (b.valid_from, b.valid_to) for b in draft.benefits}
    assert windows["Stipend"] == (date(2026, 1, 19), date(2026, 3, 30))
    assert windows["From start"] == (START, date(2026, 2, 4))
    assert windows["Whole plan"] == (START, date(2026, 4, 5))
    # Absolute windows ignore the plan's start.
    assert windows["Events 2026"] == (date(2026, 1, 1), date(2026, 12, 31))
    later = plan_from_template(start=date(2026, 6, 1), benefits=benefits[3:])
    assert (later.benefits[0].valid_from, later.benefits[0].valid_to) == windows["Events 2026"]
    # Open-ended plan: a benefit without its own end has none either.
    open_ended = plan_from_template(start=START, benefits=benefits[2:3])
    assert open_ended.benefits[0].valid_to is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goals": [GoalSpec(id=uid(1), title="Orphan", parent_goal_id=uid(99))]}, "parent"),
        (
            {
                "goals": [
                    GoalSpec(id=uid(1), title="A", parent_goal_id=uid(2)),
                    GoalSpec(id=uid(2), title="B", parent_goal_id=uid(1)),
                ]
            },
            "cycle",
        ),
        ({"goals": [GoalSpec(id=uid(1), title="Past", target_offset_days=-1)]}, "before"),
        ({"tasks": [TaskSpec(id=uid(1), title="T", goal_id=uid(42))]}, "goal"),
        (
            {
                "benefits": [
                    BenefitSpec(
                        id=uid(1), name="Both", valid_from_offset_days=0, valid_to=date(2026, 2, 1)
                    )
                ]
            },
            "not both",
        ),
        (
            {
                "benefits": [
                    BenefitSpec(
                        id=uid(1),
                        name="Reversed",
                        valid_from_offset_days=10,
                        valid_to_offset_days=5,
                    )
                ]
            },
            "ends before",
        ),
        ({"benefits": [BenefitSpec(id=uid(1), name="Zero", max_uses=0)]}, "positive"),
    ],
)
def test_bad_templates_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanningError, match=message):
        plan_from_template(start=START, **kwargs)


def test_specs_from_template_rows() -> None:
    template_id = uuid.uuid4()
    goal = TemplateGoal(
        id=uid(1),
        template_id=template_id,
        title="Reduce depression",
        target_offset_days=90,
        measure=None,
        ordering=0,
    )
    spec = GoalSpec.from_row(goal)
    assert (spec.id, spec.title, spec.target_offset_days, spec.measure) == (
        uid(1),
        "Reduce depression",
        90,
        None,
    )
    benefit = BenefitSpec.from_row(
        TemplateBenefit(
            id=uid(2),
            template_id=template_id,
            name="Vouchers",
            category=BenefitCategory.TRANSPORTATION,
            max_uses=4,
            per_period=BenefitPeriod.MONTH,
            ordering=0,
        )
    )
    assert (benefit.max_uses, benefit.per_period) == (4, BenefitPeriod.MONTH)
    task = TaskSpec.from_row(
        TemplateTask(
            id=uid(3),
            template_id=template_id,
            goal_id=uid(1),
            title="Review",
            due_offset_days=30,
            priority=Priority.ROUTINE,
            ordering=0,
        )
    )
    draft = plan_from_template(start=START, goals=[spec], benefits=[benefit], tasks=[task])
    assert draft.tasks[0].goal_id == draft.goals[0].id


# --- benefit_allows -----------------------------------------------------------------------


def benefit(**overrides: object) -> PlannedBenefit:
    values: dict[str, Any] = {
        "template_benefit_id": uid(70),
        "name": "Transportation vouchers",
        "category": BenefitCategory.TRANSPORTATION,
        "valid_from": date(2026, 1, 5),
        "valid_to": date(2026, 3, 31),
        "amount_limit": None,
        "max_uses": None,
        "per_period": BenefitPeriod.PLAN,
        "unit": "voucher",
    }
    values.update(overrides)
    return PlannedBenefit(**values)


def test_window_edges() -> None:
    b = benefit()
    assert benefit_allows(b, [], date(2026, 1, 5)) == (True, "allowed")
    assert benefit_allows(b, [], date(2026, 3, 31))[0]
    ok, reason = benefit_allows(b, [], date(2026, 1, 4))
    assert not ok
    assert "not valid before 2026-01-05" in reason
    ok, reason = benefit_allows(b, [], date(2026, 4, 1))
    assert not ok
    assert "expired on 2026-03-31" in reason


def test_weekly_limit_resets_on_monday() -> None:
    b = benefit(max_uses=2, per_period=BenefitPeriod.WEEK)
    # Thursday and Sunday of the week starting Monday 2026-01-12.
    uses = [PastUse(date(2026, 1, 15)), PastUse(date(2026, 1, 18))]
    ok, reason = benefit_allows(b, uses, date(2026, 1, 17))
    assert not ok
    assert reason == "limit of 2 voucher(s) per week reached (2 already used)"
    assert benefit_allows(b, uses, date(2026, 1, 19)) == (True, "allowed")  # next Monday
    assert benefit_allows(b, uses, date(2026, 1, 11))[0]  # the Sunday before


def test_daily_monthly_and_plan_limits() -> None:
    day = benefit(max_uses=1, per_period=BenefitPeriod.DAY)
    assert not benefit_allows(day, [PastUse(date(2026, 2, 3))], date(2026, 2, 3))[0]
    assert benefit_allows(day, [PastUse(date(2026, 2, 3))], date(2026, 2, 4))[0]

    month = benefit(max_uses=1, per_period=BenefitPeriod.MONTH, unit="payment")
    assert not benefit_allows(month, [PastUse(date(2026, 2, 1))], date(2026, 2, 28))[0]
    assert benefit_allows(month, [PastUse(date(2026, 2, 1))], date(2026, 3, 1))[0]

    plan = benefit(max_uses=2, per_period=BenefitPeriod.PLAN, unit="kit")
    uses = [PastUse(date(2026, 1, 6)), PastUse(date(2026, 3, 2))]
    ok, reason = benefit_allows(plan, uses, date(2026, 3, 20))
    assert not ok
    assert "for the plan" in reason


def test_units_count_against_max_uses() -> None:
    b = benefit(max_uses=5, per_period=BenefitPeriod.WEEK)
    uses = [PastUse(date(2026, 1, 13), units=3)]
    assert benefit_allows(b, uses, date(2026, 1, 14), units=2)[0]
    assert not benefit_allows(b, uses, date(2026, 1, 14), units=3)[0]
    assert benefit_allows(b, uses, date(2026, 1, 14), units=0) == (
        False,
        "units must be at least 1",
    )


def test_amount_limit_per_period() -> None:
    b = benefit(amount_limit=Decimal("75.00"), max_uses=5, per_period=BenefitPeriod.WEEK)
    uses = [PastUse(date(2026, 1, 12), Decimal(30)), PastUse(date(2026, 1, 13), Decimal(30))]
    assert benefit_allows(b, uses, date(2026, 1, 14), Decimal(15))[0]
    ok, reason = benefit_allows(b, uses, date(2026, 1, 14), Decimal("15.01"))
    assert not ok
    assert reason == "15.01 exceeds the 15.00 left of 75.00 per week"
    # Last week's spending does not count; uses without money never hit the amount cap.
    assert benefit_allows(b, uses, date(2026, 1, 19), Decimal(75))[0]
    assert benefit_allows(b, uses, date(2026, 1, 14), None)[0]
    assert benefit_allows(b, [], date(2026, 1, 14), Decimal(-1)) == (
        False,
        "amount must not be negative",
    )


def test_open_ended_benefit_has_no_window_checks() -> None:
    b = benefit(valid_from=None, valid_to=None, max_uses=None)
    assert benefit_allows(b, [PastUse(date(2020, 1, 1))] * 50, date(2031, 1, 1))[0]


@pytest.mark.parametrize(
    ("period", "day", "window"),
    [
        (BenefitPeriod.DAY, date(2026, 2, 3), (date(2026, 2, 3), date(2026, 2, 3))),
        (BenefitPeriod.WEEK, date(2026, 1, 1), (date(2025, 12, 29), date(2026, 1, 4))),
        (BenefitPeriod.MONTH, date(2024, 2, 10), (date(2024, 2, 1), date(2024, 2, 29))),
        (BenefitPeriod.MONTH, date(2025, 12, 31), (date(2025, 12, 1), date(2025, 12, 31))),
        (BenefitPeriod.PLAN, date(2025, 12, 31), None),
    ],
)
def test_period_window(period: BenefitPeriod, day: date, window: tuple[date, date] | None) -> None:
    assert period_window(period, day) == window


def test_undated_goals_take_the_latest_date_below_them_at_any_depth() -> None:
    goals = [
        GoalSpec(id=uid(80), title="Recovery"),
        GoalSpec(id=uid(81), title="Housing", parent_goal_id=uid(80)),
        GoalSpec(id=uid(82), title="Apply", parent_goal_id=uid(81), target_offset_days=10),
        GoalSpec(id=uid(83), title="Move in", parent_goal_id=uid(81), target_offset_days=40),
        GoalSpec(id=uid(84), title="Meetings", parent_goal_id=uid(80), target_offset_days=28),
    ]
    draft = plan_from_template(start=START, goals=goals)
    dates = {g.title: g.target_date for g in draft.goals}
    assert dates["Housing"] == START + timedelta(days=40)
    assert dates["Recovery"] == START + timedelta(days=40)
    # Depth-first; among siblings the dated one comes before the undated one.
    assert [(g.title, g.depth) for g in draft.goals] == [
        ("Recovery", 0),
        ("Meetings", 1),
        ("Housing", 1),
        ("Apply", 2),
        ("Move in", 2),
    ]


@pytest.mark.parametrize("definition", TEMPLATES, ids=lambda d: d.key)
def test_starter_templates_plan_cleanly(definition: TemplateDef) -> None:
    made, factory = counter_factory()
    template = materialize(definition, id_factory=factory, today=date(2026, 5, 1))
    draft = plan_from_template(
        start=START,
        goals=template.goals,
        benefits=template.benefits,
        tasks=template.tasks,
        duration_days=template.duration_days,
    )
    assert len(draft.goals) == len(definition.goals)
    assert all(g.target_date is not None for g in draft.goals)
    assert draft.end is not None
    assert all(t.due_date is not None and t.due_date <= draft.end for t in draft.tasks)
    # Rows come parents first, so a bulk insert satisfies every foreign key in order.
    rows = template.rows()
    seen: set[uuid.UUID] = set()
    for model, columns in rows:
        for key in ("template_id", "parent_goal_id", "goal_id"):
            if columns.get(key) is not None:
                assert columns[key] in seen, (model.__name__, key)
        seen.add(columns["id"])
    assert len(rows) == len(made)  # one row per id made, the template included
