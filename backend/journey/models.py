"""The patient's journey: how they found us, admission, discharge, referrals and alumni life.

The journey is what the funnel reports read: every timestamp between first contact and
admission is a column of its own (not a status history) so "inquiry to admission" and
"first response" times are one subtraction in SQL. Alumni models live in
:mod:`backend.journey.alumni` and are re-exported here so ``backend.models`` sees them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.columns import coded
from backend.common.mixins import PatientRecord, Tracked
from backend.common.types import Code, LevelOfCare
from backend.db import Base
from backend.journey.alumni import (
    AlumniCheckIn,
    AlumniEvent,
    AlumniEventAttendance,
    AlumniEventKind,
    AlumniMembership,
    AlumniProgram,
    AttendanceStatus,
    CheckInChannel,
    MembershipStatus,
    RecoveryStatus,
)


class ReferralSourceKind(enum.StrEnum):
    ORGANIZATION = "organization"  # hospital, clinic, school ... (see organization_id)
    PERSON = "person"  # a therapist, physician or family member by name
    CAMPAIGN = "campaign"  # paid or outreach campaign (campaign_code, utm_*)
    SELF = "self"
    WEB_SEARCH = "web_search"
    SOCIAL_MEDIA = "social_media"
    ALUMNI = "alumni"  # word of mouth from a former patient
    INSURER = "insurer"
    COURT = "court"  # drug court, probation, mandated treatment
    EMPLOYER_EAP = "employer_eap"
    HEALTHCARE_PROVIDER = "healthcare_provider"
    SCHOOL = "school"
    HOTLINE = "hotline"  # 988, SAMHSA helpline
    OTHER = "other"


class ReferralSource(Tracked, Base):
    """Where inquiries come from: the dimension of every "how did you hear about us" report.

    One row per distinct source (a campaign, a referring practice, a search engine), not per
    inquiry; ``Inquiry.referral_detail`` keeps the caller's own words. FHIR has no resource
    for it: exports use ``Encounter.hospitalization.admitSource`` (coded from ``kind``) plus
    the referring ``Organization``; campaigns and UTM fields stay local.
    """

    __tablename__ = "referral_source"
    __extra_table_args__ = (Index("ix_referral_source_kind_active", "kind", "active"),)

    kind: Mapped[ReferralSourceKind]
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None, index=True
    )
    contact_name: Mapped[str | None] = mapped_column(String(200), default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    contact_email: Mapped[str | None] = mapped_column(String(255), default=None)
    campaign_code: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    utm_source: Mapped[str | None] = mapped_column(String(100), default=None)
    utm_medium: Mapped[str | None] = mapped_column(String(100), default=None)
    utm_campaign: Mapped[str | None] = mapped_column(String(100), default=None)
    utm_term: Mapped[str | None] = mapped_column(String(100), default=None)
    utm_content: Mapped[str | None] = mapped_column(String(100), default=None)
    landing_url: Mapped[str | None] = mapped_column(String(500), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    active: Mapped[bool] = mapped_column(default=True)


class InquiryChannel(enum.StrEnum):
    WEB_FORM = "web_form"
    PHONE = "phone"
    REFERRAL = "referral"  # a professional referral arrived (fax, e-referral)
    WALK_IN = "walk_in"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"


class Urgency(enum.StrEnum):
    """How soon the person needs care; exported as FHIR priority routine/urgent/asap/stat."""

    ROUTINE = "routine"
    SOON = "soon"  # within days (FHIR urgent)
    URGENT = "urgent"  # within 24 hours (FHIR asap)
    CRISIS = "crisis"  # safety risk now: warm hand-off to crisis services (FHIR stat)


class InquiryOutcome(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED_ASSESSMENT = "scheduled_assessment"
    ADMITTED = "admitted"
    REFERRED_OUT = "referred_out"
    NOT_A_FIT = "not_a_fit"
    NO_RESPONSE = "no_response"
    DECLINED = "declined"


class Inquiry(PatientRecord, Base):
    """First contact or admission inquiry: the top of the funnel.

    FHIR R4 has no exact resource. Export as an ``Encounter`` with class ``PRENC``
    (pre-admission) and ``status`` derived from ``outcome``, plus a ``Task`` for the open
    follow-up while the outcome is pending. ``effective_at`` equals ``inquiry_at``.
    """

    __tablename__ = "inquiry"
    __extra_table_args__ = (
        Index("ix_inquiry_outcome_inquiry_at", "outcome", "inquiry_at"),
        Index("ix_inquiry_inquiry_at", "inquiry_at"),
    )

    channel: Mapped[InquiryChannel]
    referral_source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("referral_source.id", ondelete="SET NULL"), default=None, index=True
    )
    referral_detail: Mapped[str | None] = mapped_column(Text, default=None)
    # Who reached out: often a parent or partner calls for the patient.
    caller_name: Mapped[str | None] = mapped_column(String(200), default=None)
    caller_relationship: Mapped[str | None] = mapped_column(String(64), default=None)
    caller_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    caller_email: Mapped[str | None] = mapped_column(String(255), default=None)
    spoke_with_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    reason_text: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    # [{"system": ..., "code": ..., "display": ...} | {"text": ...}]: what the caller
    # describes (low mood, drinking daily, panic attacks ...), before any diagnosis.
    presenting_concerns: Mapped[list[Any]] = mapped_column(default=list)
    urgency: Mapped[Urgency] = mapped_column(default=Urgency.ROUTINE)
    level_of_care_requested: Mapped[LevelOfCare | None] = mapped_column(default=None)
    insurance_mentioned: Mapped[str | None] = mapped_column(String(200), default=None)
    insurance_member_id: Mapped[str | None] = mapped_column(String(64), default=None)
    self_pay: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[InquiryOutcome] = mapped_column(default=InquiryOutcome.PENDING)
    outcome_reason: Mapped[str | None] = mapped_column(Text, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    inquiry_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    assessment_at: Mapped[datetime | None] = mapped_column(default=None)
    admitted_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    referral_source: Mapped[ReferralSource | None] = relationship(lazy="raise")
    admissions: Mapped[list[Admission]] = relationship(lazy="raise", back_populates="inquiry")


class AdmissionStatus(enum.StrEnum):
    """FHIR EpisodeOfCare.status (entered-in-error is ``deleted_at``)."""

    PLANNED = "planned"
    WAITLIST = "waitlist"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Admission(PatientRecord, Base):
    """An episode of treatment in one program: FHIR ``EpisodeOfCare``.

    ``admitted_at`` starts the period; the period ends at the linked
    :class:`Discharge` (``ended_at`` repeats it so episode lists need no join).
    """

    __tablename__ = "admission"
    __extra_table_args__ = (Index("ix_admission_status_admitted_at", "status", "admitted_at"),)

    inquiry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inquiry.id", ondelete="SET NULL"), default=None, index=True
    )
    program: Mapped[str] = mapped_column(String(100))
    level_of_care: Mapped[LevelOfCare]
    # EpisodeOfCare.type, e.g. SNOMED 'Substance abuse treatment program' when coded.
    episode_type: Mapped[Code | None] = coded("episode_type", nullable=True)
    status: Mapped[AdmissionStatus] = mapped_column(default=AdmissionStatus.ACTIVE)
    admitted_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    expected_discharge_on: Mapped[date | None] = mapped_column(default=None)
    voluntary: Mapped[bool] = mapped_column(default=True)  # False: court-ordered / involuntary
    primary_clinician_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    care_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("care_team.id", ondelete="SET NULL"), default=None, index=True
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    managing_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None
    )
    notes: Mapped[str | None] = mapped_column(Text, default=None)

    inquiry: Mapped[Inquiry | None] = relationship(lazy="raise", back_populates="admissions")
    discharge: Mapped[Discharge | None] = relationship(lazy="raise", back_populates="admission")


class DischargeDisposition(enum.StrEnum):
    """Why and how treatment ended; the source's own code is kept in ``fhir_disposition``
    (FHIR discharge-disposition: home, oth, aadvice, exp, psy, other-hcf ...)."""

    COMPLETED_PROGRAM = "completed_program"
    STEP_DOWN = "step_down"  # to a lower level of care, often ours
    STEP_UP = "step_up"  # to a higher level of care
    TRANSFERRED = "transferred"  # to another provider
    LEFT_AGAINST_ADVICE = "left_against_advice"
    ADMINISTRATIVE = "administrative"  # rule violation, non-payment ...
    LOST_TO_CONTACT = "lost_to_contact"
    HOSPITALIZED = "hospitalized"
    INCARCERATED = "incarcerated"
    DECEASED = "deceased"
    OTHER = "other"


class Discharge(PatientRecord, Base):
    """The end of an admission: FHIR ``Encounter.hospitalization.dischargeDisposition``
    plus the end of the ``EpisodeOfCare`` period, with the aftercare plan handed over.
    """

    __tablename__ = "discharge"
    __extra_table_args__ = (Index("ix_discharge_discharged_at", "discharged_at"),)

    admission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("admission.id", ondelete="RESTRICT"), unique=True
    )
    discharged_at: Mapped[datetime]
    disposition: Mapped[DischargeDisposition]
    fhir_disposition: Mapped[Code | None] = coded("fhir_disposition", nullable=True)
    step_down_level: Mapped[LevelOfCare | None] = mapped_column(default=None)
    discharged_to: Mapped[str | None] = mapped_column(String(200), default=None)
    discharged_to_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None
    )
    discharge_instructions: Mapped[str | None] = mapped_column(Text, default=None)
    follow_up_plan: Mapped[str | None] = mapped_column(Text, default=None)
    # {"appointments": [{"with", "at", "kind"}], "medications": [{"name", "rxnorm", "sig"}],
    #  "supports": [{"kind", "name", "contact"}], "crisis_plan": "..."}
    aftercare_plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    discharged_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )

    admission: Mapped[Admission] = relationship(lazy="raise", back_populates="discharge")


class ReferralDirection(enum.StrEnum):
    INBOUND = "inbound"  # someone referred the patient to us
    OUTBOUND = "outbound"  # we referred the patient elsewhere


class ReferralStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Referral(PatientRecord, Base):
    """A referral of the patient between providers: FHIR ``ServiceRequest`` (R4's
    successor of ReferralRequest), ``intent`` = order, ``performer`` = the organization.
    """

    __tablename__ = "referral"
    __extra_table_args__ = (Index("ix_referral_direction_status", "direction", "status"),)

    direction: Mapped[ReferralDirection]
    status: Mapped[ReferralStatus] = mapped_column(default=ReferralStatus.DRAFT)
    urgency: Mapped[Urgency] = mapped_column(default=Urgency.ROUTINE)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None, index=True
    )
    organization_name: Mapped[str | None] = mapped_column(String(200), default=None)
    practitioner_name: Mapped[str | None] = mapped_column(String(200), default=None)
    practitioner_npi: Mapped[str | None] = mapped_column(String(10), default=None)
    contact_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    contact_fax: Mapped[str | None] = mapped_column(String(32), default=None)
    service: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[Code | None] = coded("service_type", nullable=True)
    reason_text: Mapped[str | None] = mapped_column(Text, default=None)
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    requester_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    inquiry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inquiry.id", ondelete="SET NULL"), default=None
    )
    admission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("admission.id", ondelete="SET NULL"), default=None, index=True
    )
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    appointment_at: Mapped[datetime | None] = mapped_column(default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)


__all__ = [
    "Admission",
    "AdmissionStatus",
    "AlumniCheckIn",
    "AlumniEvent",
    "AlumniEventAttendance",
    "AlumniEventKind",
    "AlumniMembership",
    "AlumniProgram",
    "AttendanceStatus",
    "CheckInChannel",
    "Discharge",
    "DischargeDisposition",
    "Inquiry",
    "InquiryChannel",
    "InquiryOutcome",
    "LevelOfCare",
    "MembershipStatus",
    "RecoveryStatus",
    "Referral",
    "ReferralDirection",
    "ReferralSource",
    "ReferralSourceKind",
    "ReferralStatus",
    "Urgency",
]
