"""Journey types, first contact to alumni life: thin copies of
:mod:`backend.journey.records` views."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from backend.api.types.common import WithheldField


@strawberry.type(description="First contact or admission inquiry: the top of the funnel.")
class Inquiry:
    id: strawberry.ID
    channel: str | None
    referral_source_id: strawberry.ID | None
    referral_detail: str | None
    caller_name: str | None
    caller_relationship: str | None
    caller_phone: str | None
    caller_email: str | None
    spoke_with_id: strawberry.ID | None
    location_id: strawberry.ID | None
    reason_text: str | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    presenting_concerns: JSON | None
    urgency: str | None
    level_of_care_requested: str | None
    insurance_mentioned: str | None
    insurance_member_id: str | None
    self_pay: bool | None
    outcome: str | None
    outcome_reason: str | None
    notes: str | None
    inquiry_at: datetime | None
    first_response_at: datetime | None
    assessment_at: datetime | None
    admitted_at: datetime | None
    closed_at: datetime | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="An episode of treatment in one program (FHIR EpisodeOfCare).")
class Admission:
    id: strawberry.ID
    inquiry_id: strawberry.ID | None
    program: str | None
    level_of_care: str | None
    episode_type_system: str | None
    episode_type_code: str | None
    episode_type_display: str | None
    status: str | None
    admitted_at: datetime | None
    ended_at: datetime | None
    expected_discharge_on: date | None
    voluntary: bool | None
    primary_clinician_id: strawberry.ID | None
    care_team_id: strawberry.ID | None
    location_id: strawberry.ID | None
    managing_organization_id: strawberry.ID | None
    notes: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="The end of an admission, with the aftercare handed over.")
class Discharge:
    id: strawberry.ID
    admission_id: strawberry.ID | None
    discharged_at: datetime | None
    disposition: str | None
    fhir_disposition_system: str | None
    fhir_disposition_code: str | None
    fhir_disposition_display: str | None
    step_down_level: str | None
    discharged_to: str | None
    discharged_to_organization_id: strawberry.ID | None
    discharge_instructions: str | None
    follow_up_plan: str | None
    aftercare_plan: JSON | None
    discharged_by_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(
    description="A referral between providers, inbound or outbound (FHIR ServiceRequest)."
)
class Referral:
    id: strawberry.ID
    direction: str | None
    status: str | None
    urgency: str | None
    organization_id: strawberry.ID | None
    organization_name: str | None
    practitioner_name: str | None
    practitioner_npi: str | None
    contact_phone: str | None
    contact_fax: str | None
    service: str | None
    service_type_system: str | None
    service_type_code: str | None
    service_type_display: str | None
    reason_text: str | None
    reason_system: str | None
    reason_code: str | None
    reason_display: str | None
    requester_id: strawberry.ID | None
    inquiry_id: strawberry.ID | None
    admission_id: strawberry.ID | None
    sent_at: datetime | None
    responded_at: datetime | None
    appointment_at: datetime | None
    notes: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A former patient's membership of an alumni program.")
class AlumniMembership:
    id: strawberry.ID
    program_id: strawberry.ID | None
    status: str | None
    invited_at: datetime | None
    joined_at: datetime | None
    left_at: datetime | None
    left_reason: str | None
    mentor_id: strawberry.ID | None
    discharge_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A periodic aftercare check-in with an alumnus.")
class AlumniCheckIn:
    id: strawberry.ID
    membership_id: strawberry.ID | None
    channel: str | None
    checked_in_at: datetime | None
    wellbeing_score: int | None
    recovery_status: str | None
    days_since_last_use: int | None
    notes: str | None
    needs_follow_up: bool | None
    staff_id: strawberry.ID | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A registration for (and attendance at) one alumni event.")
class AlumniEventAttendance:
    id: strawberry.ID
    event_id: strawberry.ID | None
    membership_id: strawberry.ID | None
    status: str | None
    registered_at: datetime | None
    checked_in_at: datetime | None
    cancelled_at: datetime | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
