"""Journey records handed to transports: frozen views, already masked.

Field names are the tables' columns (the policy's ``<RecordType>.field`` names); every
field but ``id`` is optional because any of them may be withheld. The clinical parts of
the journey (reasons, presenting concerns, discharge instructions, journey notes) are the
``journey_clinical`` group, so a role that reads the journey without the chart sees them
as withheld, not empty.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class InquiryView:
    id: uuid.UUID
    channel: str | None = None
    referral_source_id: uuid.UUID | None = None
    referral_detail: str | None = None
    caller_name: str | None = None
    caller_relationship: str | None = None
    caller_phone: str | None = None
    caller_email: str | None = None
    spoke_with_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    reason_text: str | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    presenting_concerns: Any = None
    urgency: str | None = None
    level_of_care_requested: str | None = None
    insurance_mentioned: str | None = None
    insurance_member_id: str | None = None
    self_pay: bool | None = None
    outcome: str | None = None
    outcome_reason: str | None = None
    notes: str | None = None
    inquiry_at: datetime | None = None
    first_response_at: datetime | None = None
    assessment_at: datetime | None = None
    admitted_at: datetime | None = None
    closed_at: datetime | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AdmissionView:
    id: uuid.UUID
    inquiry_id: uuid.UUID | None = None
    program: str | None = None
    level_of_care: str | None = None
    episode_type_system: str | None = None
    episode_type_code: str | None = None
    episode_type_display: str | None = None
    status: str | None = None
    admitted_at: datetime | None = None
    ended_at: datetime | None = None
    expected_discharge_on: date | None = None
    voluntary: bool | None = None
    primary_clinician_id: uuid.UUID | None = None
    care_team_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None
    managing_organization_id: uuid.UUID | None = None
    notes: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class DischargeView:
    id: uuid.UUID
    admission_id: uuid.UUID | None = None
    discharged_at: datetime | None = None
    disposition: str | None = None
    fhir_disposition_system: str | None = None
    fhir_disposition_code: str | None = None
    fhir_disposition_display: str | None = None
    step_down_level: str | None = None
    discharged_to: str | None = None
    discharged_to_organization_id: uuid.UUID | None = None
    discharge_instructions: str | None = None
    follow_up_plan: str | None = None
    aftercare_plan: Any = None
    discharged_by_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferralView:
    id: uuid.UUID
    direction: str | None = None
    status: str | None = None
    urgency: str | None = None
    organization_id: uuid.UUID | None = None
    organization_name: str | None = None
    practitioner_name: str | None = None
    practitioner_npi: str | None = None
    contact_phone: str | None = None
    contact_fax: str | None = None
    service: str | None = None
    service_type_system: str | None = None
    service_type_code: str | None = None
    service_type_display: str | None = None
    reason_text: str | None = None
    reason_system: str | None = None
    reason_code: str | None = None
    reason_display: str | None = None
    requester_id: uuid.UUID | None = None
    inquiry_id: uuid.UUID | None = None
    admission_id: uuid.UUID | None = None
    sent_at: datetime | None = None
    responded_at: datetime | None = None
    appointment_at: datetime | None = None
    notes: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AlumniMembershipView:
    id: uuid.UUID
    program_id: uuid.UUID | None = None
    status: str | None = None
    invited_at: datetime | None = None
    joined_at: datetime | None = None
    left_at: datetime | None = None
    left_reason: str | None = None
    mentor_id: uuid.UUID | None = None
    discharge_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AlumniCheckInView:
    id: uuid.UUID
    membership_id: uuid.UUID | None = None
    channel: str | None = None
    checked_in_at: datetime | None = None
    wellbeing_score: int | None = None
    recovery_status: str | None = None
    days_since_last_use: int | None = None
    notes: str | None = None
    needs_follow_up: bool | None = None
    staff_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AlumniEventAttendanceView:
    id: uuid.UUID
    event_id: uuid.UUID | None = None
    membership_id: uuid.UUID | None = None
    status: str | None = None
    registered_at: datetime | None = None
    checked_in_at: datetime | None = None
    cancelled_at: datetime | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
