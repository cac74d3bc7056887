"""The patient family: the patient, how to reach them, search connections, the caller.

Category fields (conditions, appointments) are resolved through the request's
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
from backend.api.types.clinical import Condition
from backend.api.types.common import PageInfo, WithheldField, from_view
from backend.api.types.scheduling import Appointment
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
