"""The patient family: the patient, how to reach them, search connections, the caller.

Category fields (conditions, appointments, medications, ...) are resolved through the request's
DataLoaders, so a page of patients costs one query per category, not one per patient.
A category the caller may not read at all is null *and* listed in ``withheld``; the
loader is not even called.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.types.billing import Coverage
from backend.api.types.careplans import CarePlan, Goal, Task
from backend.api.types.clinical import (
    Allergy,
    Assessment,
    ClinicalNote,
    Condition,
    Medication,
    Observation,
)
from backend.api.types.common import PageInfo, WithheldField, from_view
from backend.api.types.engagement import Communication, Consent
from backend.api.types.scheduling import Appointment, Encounter
from backend.patients.records import PatientPage, PatientView


@strawberry.type(description="A phone number or e-mail address of the patient.")
class ContactPoint:
    id: strawberry.ID
    system: str | None
    value: str | None
    use: str | None
    rank: int | None
    verified: bool | None
    withheld: list[WithheldField]


@strawberry.type
class Address:
    id: strawberry.ID
    use: str | None
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    withheld: list[WithheldField]


@strawberry.type(description="A patient, shaped to what the caller's roles may see.")
class Patient:
    id: strawberry.ID
    given_name: str | None
    middle_name: str | None
    family_name: str | None
    preferred_name: str | None
    name_prefix: str | None
    name_suffix: str | None
    birth_date: date | None
    sex: str | None
    gender_identity: str | None
    pronouns: str | None
    language: str | None
    interpreter_needed: bool | None
    status: str | None
    deceased_at: datetime | None
    version: int | None
    contact_points: list[ContactPoint]
    addresses: list[Address]
    withheld: list[WithheldField]

    @strawberry.field  # null when withheld, and listed in `withheld`
    async def conditions(self, info: Info[ApiContext, None]) -> list[Condition] | None:
        if self._category_withheld("conditions"):
            return None
        views = await info.context.conditions.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Condition, v) for v in views]

    @strawberry.field  # latest first; null when withheld
    async def appointments(self, info: Info[ApiContext, None]) -> list[Appointment] | None:
        if self._category_withheld("appointments"):
            return None
        views = await info.context.appointments.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Appointment, v) for v in views]

    @strawberry.field  # newest first; null when withheld
    async def medications(self, info: Info[ApiContext, None]) -> list[Medication] | None:
        if self._category_withheld("medications"):
            return None
        views = await info.context.medications.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Medication, v) for v in views]

    @strawberry.field  # null when withheld
    async def allergies(self, info: Info[ApiContext, None]) -> list[Allergy] | None:
        if self._category_withheld("allergies"):
            return None
        views = await info.context.allergies.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Allergy, v) for v in views]

    @strawberry.field  # laboratory observations, newest first; null when withheld
    async def labs(self, info: Info[ApiContext, None]) -> list[Observation] | None:
        if self._category_withheld("labs"):
            return None
        views = await info.context.labs.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Observation, v) for v in views]

    @strawberry.field  # latest first; null when withheld
    async def encounters(self, info: Info[ApiContext, None]) -> list[Encounter] | None:
        if self._category_withheld("encounters"):
            return None
        views = await info.context.encounters.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Encounter, v) for v in views]

    @strawberry.field  # newest first; psychotherapy notes left out unless author/therapist
    async def notes(self, info: Info[ApiContext, None]) -> list[ClinicalNote] | None:
        if self._category_withheld("notes"):
            return None
        views = await info.context.notes.load(uuid.UUID(self.id))
        return None if views is None else [from_view(ClinicalNote, v) for v in views]

    @strawberry.field  # newest first; null when withheld
    async def assessments(self, info: Info[ApiContext, None]) -> list[Assessment] | None:
        if self._category_withheld("assessments"):
            return None
        views = await info.context.assessments.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Assessment, v) for v in views]

    @strawberry.field  # primary first; null when withheld
    async def coverage(self, info: Info[ApiContext, None]) -> list[Coverage] | None:
        if self._category_withheld("coverage"):
            return None
        views = await info.context.coverage.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Coverage, v) for v in views]

    @strawberry.field  # newest first; null when withheld
    async def communications(self, info: Info[ApiContext, None]) -> list[Communication] | None:
        if self._category_withheld("communications"):
            return None
        views = await info.context.communications.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Communication, v) for v in views]

    @strawberry.field  # newest first; null when withheld
    async def consents(self, info: Info[ApiContext, None]) -> list[Consent] | None:
        if self._category_withheld("consents"):
            return None
        views = await info.context.consents.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Consent, v) for v in views]

    @strawberry.field  # every goal, with or without a plan; null when withheld
    async def goals(self, info: Info[ApiContext, None]) -> list[Goal] | None:
        if self._category_withheld("goals"):
            return None
        views = await info.context.goals.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Goal, v) for v in views]

    @strawberry.field  # every task, with or without a plan; null when withheld
    async def tasks(self, info: Info[ApiContext, None]) -> list[Task] | None:
        if self._category_withheld("tasks"):
            return None
        views = await info.context.tasks.load(uuid.UUID(self.id))
        return None if views is None else [from_view(Task, v) for v in views]

    @strawberry.field  # newest first, each with its goals and tasks; null when withheld
    async def care_plans(self, info: Info[ApiContext, None]) -> list[CarePlan] | None:
        if self._category_withheld("carePlans"):
            return None
        patient_id = uuid.UUID(self.id)
        views = await info.context.care_plans.load(patient_id)
        if views is None:
            return None
        return [from_view(CarePlan, v, patient_id=patient_id) for v in views]

    def _category_withheld(self, name: str) -> bool:
        return any(w.field == name for w in self.withheld)

    @classmethod
    def from_view(cls, view: PatientView) -> Patient:
        return from_view(
            cls,
            view,
            contact_points=[from_view(ContactPoint, c) for c in view.contact_points],
            addresses=[from_view(Address, a) for a in view.addresses],
        )


@strawberry.type
class PatientEdge:
    cursor: str
    node: Patient


@strawberry.type(description="A page of patients (Relay connection).")
class PatientConnection:
    edges: list[PatientEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: PatientPage) -> PatientConnection:
        edges = [
            PatientEdge(cursor=cursor, node=Patient.from_view(view))
            for view, cursor in zip(page.patients, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.type(description="The caller, as the server sees them.")
class Me:
    username: str
    kind: str
    roles: list[str]
    scopes: list[str]
    policy_version: str
