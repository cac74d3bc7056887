"""addClinicalNote."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.mutations.common import mutation, parse_id, require_id
from backend.api.types.clinical import ClinicalNote
from backend.api.types.common import from_view
from backend.clinical.notes import NewNote, add_clinical_note


@strawberry.input(description="A clinical note by the caller.")
class AddClinicalNoteInput:
    patient_id: strawberry.ID
    kind: str = strawberry.field(
        description="progress, assessment, intake, group, phone, discharge_summary, or "
        "psychotherapy (therapists only; readable by the author and treating therapist)"
    )
    title: str
    body: str
    encounter_id: strawberry.ID | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    sign: bool = strawberry.field(default=False, description="Sign it now (else a draft).")
    part2: bool = strawberry.field(
        default=False, description="A substance-use-disorder record under 42 CFR Part 2."
    )


@strawberry.type
class ClinicalMutations:
    @mutation("Add a clinical note (clinicians; psychotherapy notes by therapists only).")
    async def add_clinical_note(
        self, info: Info[ApiContext, None], input: AddClinicalNoteInput
    ) -> ClinicalNote:
        ctx = info.context
        principal = ctx.caller
        data = NewNote(
            patient_id=require_id(input.patient_id, "patientId"),
            kind=input.kind,
            title=input.title,
            body=input.body,
            encounter_id=parse_id(input.encounter_id, "encounterId"),
            period_start=input.period_start,
            period_end=input.period_end,
            sign=input.sign,
            part2=input.part2,
        )
        view = await ctx.change(
            principal,
            lambda c: add_clinical_note(
                **c,
                data=data,
            ),
        )
        return from_view(ClinicalNote, view)
