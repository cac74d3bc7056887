"""The categories of the unified record, declared once.

Each :class:`Category` names a patient-record model, the view it is read into, its order
and an optional filter. Everything that lists a patient's records is built from this
table: the per-category reads (:meth:`Category.list`, through
:func:`backend.access.listing.list_patient_records`, so scope, Part 2 / psychotherapy
rules, field masks and audit notes apply to every one alike), the GraphQL loaders
(:mod:`backend.api.context`), the categories a patient's ``withheld`` names
(:mod:`backend.patients.service`) and the timeline (:mod:`backend.record.timeline`).
Adding a category is one row here, one view and one GraphQL type.

A category can carry a row rule that depends on the caller (``row_filter``: emergency
contacts are hidden from callers who see contacts only as alumni coordinators), and can
stay off the timeline (``on_timeline``: an emergency contact is a fact about the patient,
not an event of their journey).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.access.sensitivity import consented_contact_filter
from backend.billing.models import Charge, Coverage, Invoice, Payment, PriorAuthorization
from backend.billing.records import (
    ChargeView,
    CoverageView,
    InvoiceView,
    PaymentView,
    PriorAuthorizationView,
)
from backend.careplans.models import CarePlan, Goal, Task
from backend.careplans.records import CarePlanView, GoalView, TaskView
from backend.clinical.models import Allergy, Assessment, ClinicalNote, Condition, Medication
from backend.clinical.records import (
    AllergyView,
    AssessmentView,
    ClinicalNoteView,
    ConditionView,
    DiagnosticReportView,
    ImagingStudyView,
    ImmunizationView,
    MedicationView,
    ObservationView,
    ProcedureView,
    SocialFactorView,
)
from backend.clinical.results import (
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Observation,
    ObservationCategory,
    Procedure,
    SocialFactor,
)
from backend.engagement.consent import Consent
from backend.engagement.feedback import Review, SurveyInvitation, SurveyResponse
from backend.engagement.models import Communication
from backend.engagement.records import (
    CommunicationView,
    ConsentView,
    ReviewView,
    SurveyInvitationView,
    SurveyResponseView,
)
from backend.forms.models import FormResponse
from backend.forms.records import FormResponseView
from backend.journey.models import (
    Admission,
    AlumniCheckIn,
    AlumniEventAttendance,
    AlumniMembership,
    Discharge,
    Inquiry,
    Referral,
)
from backend.journey.records import (
    AdmissionView,
    AlumniCheckInView,
    AlumniEventAttendanceView,
    AlumniMembershipView,
    DischargeView,
    InquiryView,
    ReferralView,
)
from backend.patients.models import EmergencyContact
from backend.patients.records import EmergencyContactView
from backend.scheduling.models import Appointment, Encounter
from backend.scheduling.records import AppointmentView, EncounterView

V = TypeVar("V")


class RecordKind(enum.StrEnum):
    """One per category; the value is the category's field on a patient (snake case)."""

    CONDITIONS = "conditions"
    APPOINTMENTS = "appointments"
    MEDICATIONS = "medications"
    ALLERGIES = "allergies"
    LABS = "labs"
    ENCOUNTERS = "encounters"
    NOTES = "notes"
    ASSESSMENTS = "assessments"
    COVERAGE = "coverage"
    COMMUNICATIONS = "communications"
    CONSENTS = "consents"
    CARE_PLANS = "care_plans"
    GOALS = "goals"
    TASKS = "tasks"
    INQUIRIES = "inquiries"
    ADMISSIONS = "admissions"
    DISCHARGES = "discharges"
    REFERRALS = "referrals"
    IMAGING_STUDIES = "imaging_studies"
    PROCEDURES = "procedures"
    IMMUNIZATIONS = "immunizations"
    DIAGNOSTIC_REPORTS = "diagnostic_reports"
    SOCIAL_FACTORS = "social_factors"
    PRIOR_AUTHORIZATIONS = "prior_authorizations"
    CHARGES = "charges"
    INVOICES = "invoices"
    PAYMENTS = "payments"
    FORM_RESPONSES = "form_responses"
    ALUMNI_MEMBERSHIPS = "alumni_memberships"
    ALUMNI_CHECK_INS = "alumni_check_ins"
    ALUMNI_EVENT_ATTENDANCES = "alumni_event_attendances"
    SURVEY_INVITATIONS = "survey_invitations"
    SURVEY_RESPONSES = "survey_responses"
    REVIEWS = "reviews"
    EMERGENCY_CONTACTS = "emergency_contacts"


class RowFilter(Protocol):
    """A WHERE clause on a category's rows that depends on who is asking."""

    def __call__(
        self, model: Any, *, policy: CompiledPolicy, principal: Principal
    ) -> ColumnElement[bool]: ...


@dataclass(frozen=True, eq=False)
class Category(Generic[V]):
    """One category of the record: how to list it, and how it reads on a timeline.

    ``at`` are the columns that date a record on the timeline, first non-null wins
    (``recorded_at``, when we learned of it, is the last resort). ``title`` fields: the
    first readable, non-null one is the entry's title (else ``label``); ``summary``
    fields: the readable, non-null ones joined. Only fields the caller may read are ever
    used, so a masked field cannot leak through a title. ``row_filter`` narrows the rows
    per caller on top of the shared scope and record rules; ``on_timeline`` False keeps
    the category off :mod:`backend.record.timeline`.
    """

    kind: RecordKind
    model: Any
    view: type[V]
    order_by: tuple[Any, ...]
    label: str
    title: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    at: tuple[str, ...] = ("effective_at",)
    where: tuple[ColumnElement[bool], ...] = ()
    row_filter: RowFilter | None = None
    on_timeline: bool = True

    @property
    def name(self) -> str:
        return self.kind.value

    @property
    def record_type(self) -> str:
        return str(self.model.__name__)

    def clauses(
        self, *, policy: CompiledPolicy, principal: Principal
    ) -> tuple[ColumnElement[bool], ...]:
        """The category's own WHERE clauses for this caller (on top of the shared ones)."""
        if self.row_filter is None:
            return self.where
        return (*self.where, self.row_filter(self.model, policy=policy, principal=principal))

    def list(
        self,
        *,
        session: Session,
        principal: Principal,
        policy: CompiledPolicy,
        patient_ids: Iterable[uuid.UUID],
        log: ReadLog | None = None,
        now: datetime | None = None,
    ) -> dict[uuid.UUID, list[V]] | None:
        """Each patient's records of this category, in order; None when withheld."""
        return list_patient_records(
            session=session,
            principal=principal,
            policy=policy,
            model=self.model,
            view=self.view,
            patient_ids=patient_ids,
            order_by=self.order_by,
            where=self.clauses(policy=policy, principal=principal),
            log=log,
            now=now,
        )


def _newest(model: Any, column: str = "effective_at") -> tuple[Any, ...]:
    return (getattr(model, column).desc(), model.id)


CONDITIONS = Category(
    RecordKind.CONDITIONS, Condition, ConditionView, _newest(Condition), "Condition",
    title=("code_display", "code_code"), summary=("clinical_status", "verification_status"),
)  # fmt: skip
APPOINTMENTS = Category(
    RecordKind.APPOINTMENTS, Appointment, AppointmentView, _newest(Appointment, "start_at"),
    "Appointment", title=("service_type", "appointment_type"),
    summary=("status", "reason_display"), at=("start_at", "effective_at"),
)  # fmt: skip
MEDICATIONS = Category(
    RecordKind.MEDICATIONS, Medication, MedicationView, _newest(Medication), "Medication",
    title=("code_display", "code_code"), summary=("status", "dosage_text"),
)  # fmt: skip
ALLERGIES = Category(
    RecordKind.ALLERGIES, Allergy, AllergyView, _newest(Allergy), "Allergy",
    title=("code_display", "code_code"), summary=("criticality", "reaction_manifestation"),
)  # fmt: skip
LABS = Category(
    RecordKind.LABS, Observation, ObservationView, _newest(Observation), "Lab result",
    title=("code_display", "code_code"), summary=("value_text", "interpretation"),
    where=(Observation.category == ObservationCategory.LABORATORY,),
)  # fmt: skip
ENCOUNTERS = Category(
    RecordKind.ENCOUNTERS, Encounter, EncounterView, _newest(Encounter, "period_start"),
    "Encounter", title=("type_display", "service_type"), summary=("status", "reason_display"),
    at=("period_start", "effective_at"),
)  # fmt: skip
NOTES = Category(
    RecordKind.NOTES, ClinicalNote, ClinicalNoteView, _newest(ClinicalNote), "Note",
    title=("title", "doc_type_display"), summary=("kind", "status"),
)  # fmt: skip
ASSESSMENTS = Category(
    RecordKind.ASSESSMENTS, Assessment, AssessmentView, _newest(Assessment), "Assessment",
    title=("code_display", "instrument"), summary=("total_score", "severity"),
)  # fmt: skip
COVERAGE = Category(
    RecordKind.COVERAGE, Coverage, CoverageView,
    (Coverage.coverage_order, Coverage.period_start.desc(), Coverage.id), "Coverage",
    title=("plan_name", "kind"), summary=("coverage_order", "status"),
)  # fmt: skip
COMMUNICATIONS = Category(
    RecordKind.COMMUNICATIONS, Communication, CommunicationView, _newest(Communication),
    "Message", title=("subject", "channel"), summary=("channel", "direction", "status"),
)  # fmt: skip
CONSENTS = Category(
    RecordKind.CONSENTS, Consent, ConsentView, _newest(Consent), "Consent",
    title=("purpose", "kind"), summary=("kind", "status"),
)  # fmt: skip
CARE_PLANS = Category(
    RecordKind.CARE_PLANS, CarePlan, CarePlanView, _newest(CarePlan), "Care plan",
    title=("title",), summary=("status", "intent"),
)  # fmt: skip
GOALS = Category(
    RecordKind.GOALS, Goal, GoalView, (Goal.ordering, Goal.id), "Goal",
    title=("title",), summary=("lifecycle_status", "achievement_status"),
)  # fmt: skip
TASKS = Category(
    RecordKind.TASKS, Task, TaskView, (Task.due_at, Task.id), "Task",
    title=("title",), summary=("status", "priority"),
)  # fmt: skip
INQUIRIES = Category(
    RecordKind.INQUIRIES, Inquiry, InquiryView, _newest(Inquiry, "inquiry_at"), "Inquiry",
    title=("reason_display", "reason_text"), summary=("channel", "urgency", "outcome"),
    at=("inquiry_at",),
)  # fmt: skip
ADMISSIONS = Category(
    RecordKind.ADMISSIONS, Admission, AdmissionView, _newest(Admission, "admitted_at"),
    "Admission", title=("program",), summary=("level_of_care", "status"), at=("admitted_at",),
)  # fmt: skip
DISCHARGES = Category(
    RecordKind.DISCHARGES, Discharge, DischargeView, _newest(Discharge, "discharged_at"),
    "Discharge", title=("disposition",), summary=("discharged_to", "step_down_level"),
    at=("discharged_at",),
)  # fmt: skip
REFERRALS = Category(
    RecordKind.REFERRALS, Referral, ReferralView, _newest(Referral), "Referral",
    title=("service",), summary=("direction", "status", "organization_name"),
    at=("effective_at", "sent_at"),
)  # fmt: skip
IMAGING_STUDIES = Category(
    RecordKind.IMAGING_STUDIES, ImagingStudy, ImagingStudyView, _newest(ImagingStudy),
    "Imaging study", title=("description", "modality_display"), summary=("status",),
    at=("effective_at", "started_at"),
)  # fmt: skip
PROCEDURES = Category(
    RecordKind.PROCEDURES, Procedure, ProcedureView, _newest(Procedure), "Procedure",
    title=("code_display", "code_code"), summary=("status", "outcome"),
)  # fmt: skip
IMMUNIZATIONS = Category(
    RecordKind.IMMUNIZATIONS, Immunization, ImmunizationView, _newest(Immunization),
    "Immunization", title=("vaccine_display", "vaccine_code"), summary=("status",),
)  # fmt: skip
DIAGNOSTIC_REPORTS = Category(
    RecordKind.DIAGNOSTIC_REPORTS, DiagnosticReport, DiagnosticReportView,
    _newest(DiagnosticReport), "Diagnostic report", title=("code_display", "code_code"),
    summary=("status", "conclusion"), at=("effective_at", "issued_at"),
)  # fmt: skip
SOCIAL_FACTORS = Category(
    RecordKind.SOCIAL_FACTORS, SocialFactor, SocialFactorView, _newest(SocialFactor),
    "Social factor", title=("code_display", "domain"), summary=("domain", "risk"),
    at=("effective_at", "screened_at"),
)  # fmt: skip
PRIOR_AUTHORIZATIONS = Category(
    RecordKind.PRIOR_AUTHORIZATIONS, PriorAuthorization, PriorAuthorizationView,
    _newest(PriorAuthorization), "Prior authorization",
    title=("service_display", "service_code"), summary=("status", "units_approved"),
    at=("effective_at", "requested_at"),
)  # fmt: skip
CHARGES = Category(
    RecordKind.CHARGES, Charge, ChargeView, _newest(Charge, "service_date"), "Charge",
    title=("code_display", "code_code"), summary=("status", "amount"),
)  # fmt: skip
INVOICES = Category(
    RecordKind.INVOICES, Invoice, InvoiceView, _newest(Invoice), "Invoice",
    title=("number",), summary=("status", "balance"),
)  # fmt: skip
PAYMENTS = Category(
    RecordKind.PAYMENTS, Payment, PaymentView, _newest(Payment, "received_at"), "Payment",
    title=("method",), summary=("payer_kind", "amount", "status"), at=("received_at",),
)  # fmt: skip
FORM_RESPONSES = Category(
    RecordKind.FORM_RESPONSES, FormResponse, FormResponseView, _newest(FormResponse),
    "Form", summary=("status",), at=("effective_at", "completed_at", "started_at"),
)  # fmt: skip
ALUMNI_MEMBERSHIPS = Category(
    RecordKind.ALUMNI_MEMBERSHIPS, AlumniMembership, AlumniMembershipView,
    _newest(AlumniMembership), "Alumni membership", summary=("status",),
    at=("effective_at", "joined_at", "invited_at"),
)  # fmt: skip
ALUMNI_CHECK_INS = Category(
    RecordKind.ALUMNI_CHECK_INS, AlumniCheckIn, AlumniCheckInView,
    _newest(AlumniCheckIn, "checked_in_at"), "Alumni check-in", title=("recovery_status",),
    summary=("channel", "wellbeing_score"), at=("checked_in_at",),
)  # fmt: skip
ALUMNI_EVENT_ATTENDANCES = Category(
    RecordKind.ALUMNI_EVENT_ATTENDANCES, AlumniEventAttendance, AlumniEventAttendanceView,
    _newest(AlumniEventAttendance), "Alumni event", summary=("status",),
    at=("effective_at", "checked_in_at", "registered_at"),
)  # fmt: skip
SURVEY_INVITATIONS = Category(
    RecordKind.SURVEY_INVITATIONS, SurveyInvitation, SurveyInvitationView,
    _newest(SurveyInvitation), "Survey invitation", title=("survey_kind",),
    summary=("channel",), at=("effective_at", "sent_at"),
)  # fmt: skip
SURVEY_RESPONSES = Category(
    RecordKind.SURVEY_RESPONSES, SurveyResponse, SurveyResponseView,
    _newest(SurveyResponse, "submitted_at"), "Survey response", summary=("nps", "csat"),
    at=("submitted_at",),
)  # fmt: skip
REVIEWS = Category(
    RecordKind.REVIEWS, Review, ReviewView, _newest(Review), "Review",
    title=("title", "platform"), summary=("rating", "moderation_status"),
)  # fmt: skip
EMERGENCY_CONTACTS = Category(
    RecordKind.EMERGENCY_CONTACTS, EmergencyContact, EmergencyContactView,
    (EmergencyContact.is_primary.desc(), *_newest(EmergencyContact, "recorded_at")),
    "Emergency contact", title=("name",), summary=("relationship_to_patient",),
    at=("effective_at",), row_filter=consented_contact_filter, on_timeline=False,
)  # fmt: skip

CATEGORIES: Mapping[RecordKind, Category[Any]] = {
    c.kind: c
    for c in (
        CONDITIONS, APPOINTMENTS, MEDICATIONS, ALLERGIES, LABS, ENCOUNTERS, NOTES, ASSESSMENTS,
        COVERAGE, COMMUNICATIONS, CONSENTS, CARE_PLANS, GOALS, TASKS, INQUIRIES, ADMISSIONS,
        DISCHARGES, REFERRALS, IMAGING_STUDIES, PROCEDURES, IMMUNIZATIONS, DIAGNOSTIC_REPORTS,
        SOCIAL_FACTORS, PRIOR_AUTHORIZATIONS, CHARGES, INVOICES, PAYMENTS, FORM_RESPONSES,
        ALUMNI_MEMBERSHIPS, ALUMNI_CHECK_INS, ALUMNI_EVENT_ATTENDANCES, SURVEY_INVITATIONS,
        SURVEY_RESPONSES, REVIEWS, EMERGENCY_CONTACTS,
    )
}  # fmt: skip
"""Every category, in the order a patient lists them."""


def record_types(categories: Sequence[Category[Any]] | None = None) -> dict[str, str]:
    """Category name -> record type, for the patient's category-level ``withheld``."""
    return {c.name: c.record_type for c in (categories or CATEGORIES.values())}
