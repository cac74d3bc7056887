"""The patient's own intake over GraphQL: read it, start it, save a step, submit it.

Only the signed-in patient (capability ``submit_own_intake``) gets an answer; another
patient's response id is NOT_FOUND, exactly like an id that never existed. The portal
runs these as named operations in-process (graphql/operations/PortalIntake*.graphql).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.errors import bad_input
from backend.api.mutations.common import mutation, require_id
from backend.clinical.scoring import score
from backend.forms.instruments import GAD7_ITEMS, PHQ9_ITEMS, score_answers
from backend.forms.intake import (
    current_intake,
    intake_definition,
    load_intake,
    review_errors,
    save_step,
    start_intake,
    submit_intake,
)
from backend.forms.models import FormDefinition, FormResponse

F = TypeVar("F", bound=Callable[..., Any])


def _field(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.field(description=description))


READ_FIELDS = ("answers", "status", "current_step", "scores")


@strawberry.type(description="One answer the form refused: the question's linkId and why.")
class FieldProblem:
    # Derived from the answers: the policy masks it as FormResponse.answers.
    policy_record_type: ClassVar[str] = "FormResponse"
    policy_fields: ClassVar[dict[str, str]] = {"field": "answers", "message": "answers"}

    field: str
    message: str


@strawberry.type(description="A standard instrument's total and severity band.")
class InstrumentScore:
    policy_record_type: ClassVar[str] = "FormResponse"
    policy_fields: ClassVar[dict[str, str]] = {
        "instrument": "scores",
        "total": "scores",
        "severity": "scores",
        "suicide_risk": "scores",
    }

    instrument: str
    total: int
    severity: str
    suicide_risk: bool = strawberry.field(description="PHQ-9 item 9 answered above 0.")


def scoring(answers: dict[str, Any]) -> list[InstrumentScore]:
    """PHQ-9 and GAD-7 scores of the answers so far (an instrument once fully answered)."""
    found = []
    for name, total in score_answers(answers).items():
        items = PHQ9_ITEMS if name == "phq9" else GAD7_ITEMS
        result = score(name, [int(str(answers[link_id])) for link_id, _, _ in items])
        found.append(
            InstrumentScore(
                instrument=name,
                total=total,
                severity=result.severity.value,
                suicide_risk=result.suicide_risk,
            )
        )
    return found


@strawberry.type(
    description="The signed-in patient's own intake: the form (its steps as data), the "
    "answers so far, and computed scores."
)
class Intake:
    # One FormResponse with the form it answers (the form's title, version and steps are
    # what definition_id points at).
    policy_record_type: ClassVar[str] = "FormResponse"
    policy_fields: ClassVar[dict[str, str]] = {
        "title": "definition_id",
        "form_version": "definition_id",
        "steps": "definition_id",
        "scoring": "scores",
        "crisis": "answers",
        "problems": "answers",
    }

    id: strawberry.ID
    status: str
    current_step: str | None
    answers: JSON
    scores: JSON | None
    title: str
    form_version: int
    steps: JSON = strawberry.field(description="The form's steps and questions (schema format).")
    scoring: list[InstrumentScore]
    crisis: bool = strawberry.field(
        description="PHQ-9 item 9 answered above 0: show the crisis line now."
    )
    problems: list[FieldProblem] = strawberry.field(
        description="What still stops submission (every required answer, every constraint)."
    )


@strawberry.type(description="The outcome of saving one step: nothing is saved when any "
                 "problem is listed.")  # fmt: skip
class IntakeStepResult:
    policy_record_type: ClassVar[str] = "FormResponse"

    intake: Intake
    problems: list[FieldProblem]


@strawberry.input
class SaveIntakeStepInput:
    response_id: strawberry.ID
    step: str
    answers: JSON = strawberry.field(
        description="linkId -> value (string, number, boolean, ISO date, code or codes)."
    )


def _intake(response: FormResponse, definition: FormDefinition) -> Intake:
    answers: dict[str, Any] = dict(response.answers)
    return Intake(
        id=strawberry.ID(str(response.id)),
        status=response.status.value,
        current_step=response.current_step,
        answers=cast("JSON", answers),
        scores=cast("JSON | None", response.scores),
        title=definition.title,
        form_version=definition.form_version,
        steps=definition.schema.get("steps", []),
        scoring=scoring(answers),
        crisis=str(answers.get("phq9_9", "0")) in {"1", "2", "3"},
        problems=[
            FieldProblem(field=k, message=v) for k, v in review_errors(definition, answers).items()
        ],
    )


def _answers(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_input("answers", "must be an object of linkId -> value")
    return raw


@strawberry.type
class IntakeQueries:
    @_field(
        "The signed-in patient's intake: the one with ``responseId``, else the one in "
        "progress (null when there is none)."
    )
    async def my_intake(
        self, info: Info[ApiContext, None], response_id: strawberry.ID | None = None
    ) -> Intake | None:
        ctx = info.context
        principal = ctx.caller
        wanted = None if response_id is None else require_id(response_id, "responseId")

        def read(s: Any) -> Intake | None:
            if wanted is None:
                found = current_intake(session=s, principal=principal, policy=ctx.policy)
            else:
                found = load_intake(
                    session=s, principal=principal, policy=ctx.policy, response_id=wanted
                )
            if found is None:
                return None
            # Audited like every read of the record (the AuditReads extension writes it).
            ctx.reads.note(
                patient_id=found[0].patient_id, record_type="FormResponse", fields=READ_FIELDS
            )
            return _intake(*found)

        return await ctx.run(read)


@strawberry.type
class IntakeMutations:
    @mutation("Start the signed-in patient's intake, or return the one in progress.")
    async def start_intake(self, info: Info[ApiContext, None]) -> Intake:
        ctx = info.context
        principal = ctx.caller

        def work(s: Any) -> Intake:
            response = start_intake(session=s, principal=principal, policy=ctx.policy, now=ctx.now)
            return _intake(response, intake_definition(s, now=ctx.now))

        return await ctx.run(work)

    @mutation("Save one step of the patient's own intake (all of the step, or nothing).")
    async def save_intake_step(
        self, info: Info[ApiContext, None], input: SaveIntakeStepInput
    ) -> IntakeStepResult:
        ctx = info.context
        principal = ctx.caller
        response_id = require_id(input.response_id, "responseId")
        answers = _answers(input.answers)

        def work(s: Any) -> IntakeStepResult:
            outcome = save_step(
                session=s,
                principal=principal,
                policy=ctx.policy,
                response_id=response_id,
                step_id=input.step,
                answers=answers,
                now=ctx.now,
            )
            _, definition = load_intake(
                session=s, principal=principal, policy=ctx.policy, response_id=response_id
            )
            return IntakeStepResult(
                intake=_intake(outcome.response, definition),
                problems=[FieldProblem(field=k, message=v) for k, v in outcome.errors.items()],
            )

        return await ctx.run(work)

    @mutation(
        "Submit the patient's own intake: completes it and updates the record "
        "(patient-reported) in one transaction; submitting again changes nothing."
    )
    async def submit_intake(
        self, info: Info[ApiContext, None], response_id: strawberry.ID
    ) -> Intake:
        ctx = info.context
        principal = ctx.caller
        wanted = require_id(response_id, "responseId")

        def work(s: Any) -> Intake:
            response = submit_intake(
                session=s, principal=principal, policy=ctx.policy, response_id=wanted, now=ctx.now
            )
            _, definition = load_intake(
                session=s, principal=principal, policy=ctx.policy, response_id=wanted
            )
            return _intake(response, definition)

        return await ctx.run(work)
