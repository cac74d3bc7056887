"""Form types: a patient's responses, their answers two ways, and the form they answer.

``answers`` is the stored JSON (linkId -> value) for clients that render a form;
``answerList`` is the same as question/answer pairs for clients that only list them.
The definition (key and version) comes from a per-request loader: one query for all
the responses of a page, whatever their number.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.types.common import WithheldField, from_view


@strawberry.type(description="A form (questionnaire) in one version; reference data.")
class FormDefinition:
    id: strawberry.ID
    key: str | None
    form_version: int | None
    title: str | None
    status: str | None
    withheld: list[WithheldField]


@strawberry.type(description="One answer of a form response: the question's linkId and its value.")
class FormAnswer:
    # Derived from FormResponse.answers: the policy masks it as that field.
    policy_record_type: ClassVar[str] = "FormResponse"
    policy_fields: ClassVar[dict[str, str]] = {"question": "answers", "answer": "answers"}

    question: str
    answer: JSON | None


@strawberry.type(
    description="One field a submitted intake changed (or, when not applied, proposed): "
    "before -> after, patient-reported."
)
class FormChange:
    # Derived from FormResponse.changes: the policy masks it as that field.
    policy_record_type: ClassVar[str] = "FormResponse"
    policy_fields: ClassVar[dict[str, str]] = {
        "field": "changes",
        "target": "changes",
        "previous": "changes",
        "submitted": "changes",
        "applied": "changes",
    }

    field: str
    target: str = strawberry.field(description="Where it lands: RecordType or Type.field.")
    previous: JSON | None
    submitted: JSON | None
    applied: bool = strawberry.field(
        description="False: written on the response only, for staff to review and apply."
    )


@strawberry.type(
    description="A patient's answers to one form version (FHIR QuestionnaireResponse)."
)
class FormResponse:
    id: strawberry.ID
    definition_id: strawberry.ID | None
    status: str | None
    answers: JSON | None
    current_step: str | None
    started_at: datetime | None
    completed_at: datetime | None
    submitted_by: str | None
    submitted_by_staff_id: strawberry.ID | None
    proxy_name: str | None
    encounter_id: strawberry.ID | None
    scores: JSON | None
    changes: strawberry.Private[Any] = None
    reviewed_at: datetime | None
    reviewed_by_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]

    @strawberry.field  # the answers as question/answer pairs; null when withheld
    def answer_list(self) -> list[FormAnswer] | None:
        answers: Any = self.answers
        if not isinstance(answers, dict):
            return None
        return [FormAnswer(question=str(k), answer=v) for k, v in answers.items()]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="What the patient changed with this response (before -> after); null "
        "when withheld, empty when nothing differed."
    )
    def change_list(self) -> list[FormChange] | None:
        if self.changes is None:
            return None if any(w.field == "changes" for w in self.withheld) else []
        changes: Any = self.changes
        return [
            FormChange(
                field=str(name),
                target=str(entry.get("target", "")),
                previous=entry.get("previous"),
                submitted=entry.get("submitted"),
                applied=bool(entry.get("applied", True)),
            )
            for name, entry in changes.items()
        ]

    @strawberry.field  # the form this responds to (its key and version)
    async def definition(self, info: Info[ApiContext, None]) -> FormDefinition | None:
        if self.definition_id is None:
            return None
        view = await info.context.form_definitions.load(uuid.UUID(self.definition_id))
        return None if view is None else from_view(FormDefinition, view)
