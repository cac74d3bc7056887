"""The patient family: the patient, how to reach them and whom to call, search
connections, the caller.

Category fields (conditions, appointments, medications, ...) are resolved through the request's
DataLoaders, so a page of patients costs one query per category, not one per patient.
A category the caller may not read at all is null *and* listed in ``withheld``; the
loader is not even called.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from backend.api.context import ApiContext
from backend.api.types.billing import Charge, Coverage, Invoice, Payment, PriorAuthorization
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
from backend.api.types.feedback import Review, SurveyInvitation, SurveyResponse
from backend.api.types.forms import FormResponse
from backend.api.types.journey import (
    Admission,
    AlumniCheckIn,
    AlumniEventAttendance,
    AlumniMembership,
    Discharge,
    Inquiry,
    Referral,
)
from backend.api.types.results import (
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Procedure,
    SocialFactor,
)
from backend.api.types.scheduling import Appointment, Encounter
from backend.api.types.timeline import TimelineConnection, resolve_timeline
from backend.patients.records import PatientPage, PatientView
from backend.record.categories import (
    ADMISSIONS,
    ALLERGIES,
    ALUMNI_CHECK_INS,
    ALUMNI_EVENT_ATTENDANCES,
    ALUMNI_MEMBERSHIPS,
    APPOINTMENTS,
    ASSESSMENTS,
    CARE_PLANS,
    CHARGES,
    COMMUNICATIONS,
    CONDITIONS,
    CONSENTS,
    COVERAGE,
    DIAGNOSTIC_REPORTS,
    DISCHARGES,
    EMERGENCY_CONTACTS,
    ENCOUNTERS,
    FORM_RESPONSES,
    GOALS,
    IMAGING_STUDIES,
    IMMUNIZATIONS,
    INQUIRIES,
    INVOICES,
    LABS,
    MEDICATIONS,
    NOTES,
    PAYMENTS,
    PRIOR_AUTHORIZATIONS,
    PROCEDURES,
    REFERRALS,
    REVIEWS,
    SOCIAL_FACTORS,
    SURVEY_INVITATIONS,
    SURVEY_RESPONSES,
    TASKS,
    Category,
)


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


@strawberry.type(description="Someone to call for the patient in an emergency.")
class EmergencyContact:
    id: strawberry.ID
    name: str | None
    relationship_to_patient: str | None
    phone: str | None
    email: str | None
    is_primary: bool | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


T = TypeVar("T")


def category_field(category: Category[Any], type_: type[T]) -> Any:
    """The Patient field for one category: its records through the request's loader,
    or null when the whole category is withheld (then listed in ``withheld``)."""
    name = to_camel_case(category.name)

    async def resolve(root: Any, info: Info[ApiContext, None]) -> list[T] | None:
        if any(w.field == name for w in root.withheld):
            return None
        views = await info.context.records(category, uuid.UUID(root.id))
        return None if views is None else [from_view(type_, v) for v in views]

    # Strawberry reads the GraphQL type from the annotations: give it the real class.
    resolve.__annotations__ = {
        "root": Any,
        "info": Info[ApiContext, None],
        "return": list[type_] | None,  # type: ignore[valid-type]
    }
    return strawberry.field(resolver=resolve)


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

    # Every category but care plans (which nest goals and tasks) is one line built from
    # the table in backend/record/categories.py: null when withheld, and then listed in
    # `withheld` (the loader is not even called).
    conditions: list[Condition] | None = category_field(CONDITIONS, Condition)
    appointments: list[Appointment] | None = category_field(APPOINTMENTS, Appointment)
    medications: list[Medication] | None = category_field(MEDICATIONS, Medication)
    allergies: list[Allergy] | None = category_field(ALLERGIES, Allergy)
    labs: list[Observation] | None = category_field(LABS, Observation)
    encounters: list[Encounter] | None = category_field(ENCOUNTERS, Encounter)
    notes: list[ClinicalNote] | None = category_field(NOTES, ClinicalNote)
    assessments: list[Assessment] | None = category_field(ASSESSMENTS, Assessment)
    coverage: list[Coverage] | None = category_field(COVERAGE, Coverage)
    communications: list[Communication] | None = category_field(COMMUNICATIONS, Communication)
    consents: list[Consent] | None = category_field(CONSENTS, Consent)
    goals: list[Goal] | None = category_field(GOALS, Goal)
    tasks: list[Task] | None = category_field(TASKS, Task)
    inquiries: list[Inquiry] | None = category_field(INQUIRIES, Inquiry)
    admissions: list[Admission] | None = category_field(ADMISSIONS, Admission)
    discharges: list[Discharge] | None = category_field(DISCHARGES, Discharge)
    referrals: list[Referral] | None = category_field(REFERRALS, Referral)
    imaging_studies: list[ImagingStudy] | None = category_field(IMAGING_STUDIES, ImagingStudy)
    procedures: list[Procedure] | None = category_field(PROCEDURES, Procedure)
    immunizations: list[Immunization] | None = category_field(IMMUNIZATIONS, Immunization)
    diagnostic_reports: list[DiagnosticReport] | None = category_field(
        DIAGNOSTIC_REPORTS, DiagnosticReport
    )
    social_factors: list[SocialFactor] | None = category_field(SOCIAL_FACTORS, SocialFactor)
    prior_authorizations: list[PriorAuthorization] | None = category_field(
        PRIOR_AUTHORIZATIONS, PriorAuthorization
    )
    charges: list[Charge] | None = category_field(CHARGES, Charge)
    invoices: list[Invoice] | None = category_field(INVOICES, Invoice)
    payments: list[Payment] | None = category_field(PAYMENTS, Payment)
    form_responses: list[FormResponse] | None = category_field(FORM_RESPONSES, FormResponse)
    alumni_memberships: list[AlumniMembership] | None = category_field(
        ALUMNI_MEMBERSHIPS, AlumniMembership
    )
    alumni_check_ins: list[AlumniCheckIn] | None = category_field(ALUMNI_CHECK_INS, AlumniCheckIn)
    alumni_event_attendances: list[AlumniEventAttendance] | None = category_field(
        ALUMNI_EVENT_ATTENDANCES, AlumniEventAttendance
    )
    survey_invitations: list[SurveyInvitation] | None = category_field(
        SURVEY_INVITATIONS, SurveyInvitation
    )
    survey_responses: list[SurveyResponse] | None = category_field(SURVEY_RESPONSES, SurveyResponse)
    reviews: list[Review] | None = category_field(REVIEWS, Review)
    emergency_contacts: list[EmergencyContact] | None = category_field(
        EMERGENCY_CONTACTS, EmergencyContact
    )

    timeline: TimelineConnection = strawberry.field(
        resolver=resolve_timeline,
        description="Every record you may read, newest first, as one journey (Relay).",
    )

    @strawberry.field  # newest first, each with its goals and tasks; null when withheld
    async def care_plans(self, info: Info[ApiContext, None]) -> list[CarePlan] | None:
        if self._category_withheld("carePlans"):
            return None
        patient_id = uuid.UUID(self.id)
        views = await info.context.records(CARE_PLANS, patient_id)
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
