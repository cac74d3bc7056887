"""Demo care plans: four programme templates, and per admitted patient one plan made from
one of them with goals, benefits and their use, tasks and now and then a case.

Rows per patient: inquiry 0 (one in five gets an intake case and its call-back task: 2);
admitted stages about 8.4 (plan 1, goals 2-4, benefits 1-2 with 0-3 uses each, tasks 2-3,
one in eight a case, half of those with a follow-up task). Plans go through
:func:`~backend.careplans.planning.plan_from_template`, as the "apply template" mutation
will. In-treatment and discharged patients get the treatment plan for their concern
(``journey.concern``: the Part 2 recovery plan for a substance-use disorder, trauma
therapy for PTSD, otherwise depression and anxiety; by the care team's program when the
journey did not run); alumni get the aftercare plan from their discharge.
"""

from __future__ import annotations

import random
from datetime import timedelta

from backend.accounts.models import StaffRole
from backend.careplans.enums import CarePlanIntent, CarePlanStatus, CaseKind
from backend.careplans.models import CarePlan
from backend.careplans.planning import plan_from_template
from backend.careplans.starter import StarterTemplate, materialize
from backend.careplans.starter_templates import TEMPLATES
from backend.common.types import Sensitivity
from backend.demo.careplans.content import (
    CASE_KIND_WEIGHTS,
    CASE_KINDS,
    DEFAULT_TEMPLATE,
    DOMAIN,
    ORGANIZATION,
    SUD_TEMPLATE,
    TEMPLATE_BY_CONCERN,
    TREATMENT_BY_PROGRAM,
    US_CORE_CAREPLAN_CATEGORY,
)
from backend.demo.careplans.records import (
    Plan,
    add_benefit,
    add_case,
    add_goal,
    add_task,
    pick_goals,
)
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at, new_id
from backend.demo.journey_content import CONCERN_BY_KEY
from backend.demo.sink import RowSink


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """Write the starter templates; ``ctx.shared["careplans.templates"]``: key ->
    :class:`StarterTemplate`."""
    rng = ctx.rng(None, DOMAIN)
    templates: dict[str, StarterTemplate] = {}
    for definition in TEMPLATES:
        template = materialize(definition, id_factory=lambda: new_id(rng), today=ctx.today)
        for model, columns in template.rows(publisher=ORGANIZATION):
            sink.add(model, **columns)
        templates[template.key] = template
    ctx.shared["careplans.templates"] = templates


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, DOMAIN)
    patient.facts["careplans.plan_id"] = None
    patient.facts["careplans.task_ids"] = []
    if patient.stage is JourneyStage.INQUIRY or patient.admitted_at is None:
        if rng.random() < 0.2:  # an inquiry's follow-up: its only care-plan rows
            opened = min(patient.first_contact_at + timedelta(hours=rng.uniform(0.5, 6)), ctx.now)
            no_plan = Plan(
                ctx=ctx,
                patient=patient,
                sink=sink,
                rng=rng,
                id=None,
                status=CarePlanStatus.ACTIVE,
                start=opened.date(),
                end=None,
                created_at=opened,
                as_of=ctx.now,
                author_id=ctx.team_member(patient, StaffRole.FRONT_DESK, rng),
                sensitivity=Sensitivity.NONE,
            )
            add_case(no_plan, CaseKind.INTAKE, opened=opened, follow_up=1.0)
        return
    templates: dict[str, StarterTemplate] = ctx.shared["careplans.templates"]
    plan = _write_plan(ctx, patient, sink, rng, templates)
    if rng.random() < 0.125:
        add_case(plan, rng.choices(CASE_KINDS, weights=CASE_KIND_WEIGHTS)[0])


def _write_plan(
    ctx: DemoContext,
    patient: PatientSeed,
    sink: RowSink,
    rng: random.Random,
    templates: dict[str, StarterTemplate],
) -> Plan:
    assert patient.admitted_at is not None
    now = ctx.now
    if patient.stage is JourneyStage.ALUMNI and patient.discharged_at is not None:
        info = templates["aftercare"]
        created_at = min(patient.discharged_at + timedelta(hours=rng.uniform(1, 30)), now)
    else:
        info = templates[_treatment_template(ctx, patient, rng, templates)]
        created_at = min(patient.admitted_at + timedelta(hours=rng.uniform(2, 60)), now)
    start = created_at.date()
    draft = plan_from_template(
        start=start,
        goals=info.goals,
        benefits=info.benefits,
        tasks=info.tasks,
        duration_days=info.duration_days,
        id_factory=lambda: new_id(rng),
    )
    end = draft.end
    status = CarePlanStatus.ACTIVE
    if patient.stage is JourneyStage.DISCHARGED and patient.discharged_at is not None:
        end = max(patient.discharged_at.date(), start)
        status = CarePlanStatus.COMPLETED if rng.random() < 0.92 else CarePlanStatus.REVOKED
    elif patient.stage is JourneyStage.ALUMNI and end is not None and end < ctx.today:
        status = CarePlanStatus.COMPLETED  # the six months of aftercare are over
    elif rng.random() < 0.05:  # still in treatment (a plan past its end awaits review)
        status = CarePlanStatus.ON_HOLD
    closed = status in {CarePlanStatus.COMPLETED, CarePlanStatus.REVOKED}
    as_of = min(now, at(end, rng, 12, 17)) if closed and end is not None else now
    as_of = max(as_of, created_at)
    author = ctx.team_member(patient, StaffRole.THERAPIST, rng)
    plan = Plan(
        ctx=ctx,
        patient=patient,
        sink=sink,
        rng=rng,
        id=new_id(rng),
        status=status,
        start=start,
        end=end,
        created_at=created_at,
        as_of=as_of,
        author_id=author,
        sensitivity=info.sensitivity,
    )
    sink.add(
        CarePlan,
        id=plan.id,
        patient_id=patient.id,
        effective_at=created_at,
        updated_at=as_of,
        author_id=author,
        sensitivity=info.sensitivity,
        template_id=info.id,
        title=info.title,
        description=f"Made from the template {info.name!r}.",
        status=status,
        intent=CarePlanIntent.PLAN,
        category_system=US_CORE_CAREPLAN_CATEGORY,
        category_code="assess-plan",
        category_display="Assessment and Plan of Treatment",
        period_start=start,
        period_end=end,
        care_team_id=patient.care_team_id,
        created_by_id=author,
        addressed_condition_ids=[str(c) for c in patient.facts.get("clinical.condition_ids", [])],
        note=(
            "Discharged before the plan's end; see discharge summary."
            if status is CarePlanStatus.REVOKED
            else None
        ),
    )
    patient.facts["careplans.plan_id"] = plan.id

    goals = pick_goals(draft.goals, rng)
    for goal in goals:
        add_goal(plan, goal)
    kept = {g.id for g in goals}
    benefits = list(draft.benefits)
    for benefit in rng.sample(benefits, min(len(benefits), 2 if rng.random() < 0.25 else 1)):
        add_benefit(plan, info, benefit)
    tasks = draft.tasks
    chosen = sorted(rng.sample(range(len(tasks)), min(len(tasks), rng.choice((2, 2, 3)))))
    for index in chosen:
        task = tasks[index]
        add_task(
            plan,
            title=task.title,
            due_date=task.due_date,
            role=task.assignee_role,
            priority=task.priority,
            goal_id=task.goal_id if task.goal_id in kept else None,
            template_task_id=task.template_task_id,
            description=task.description,
        )
    return plan


def _treatment_template(
    ctx: DemoContext,
    patient: PatientSeed,
    rng: random.Random,
    templates: dict[str, StarterTemplate],
) -> str:
    """The treatment plan's template key: the one for the patient's concern, so a
    substance-use disorder gets the Part 2 recovery plan and nothing else does."""
    concern = CONCERN_BY_KEY.get(patient.facts.get("journey.concern") or "")
    if concern is not None:
        if concern.sud and SUD_TEMPLATE in templates:
            return SUD_TEMPLATE
        key = TEMPLATE_BY_CONCERN.get(concern.key, DEFAULT_TEMPLATE)
        return key if key in templates else DEFAULT_TEMPLATE
    program = ctx.care_teams[patient.care_team_id].get("program") or "outpatient"
    options = TREATMENT_BY_PROGRAM.get(program, TREATMENT_BY_PROGRAM["outpatient"])
    return rng.choices([k for k, _ in options], weights=[w for _, w in options])[0]
