"""Appointments booked with the clinic and the encounters that happen when patients are seen.

An :class:`Appointment` is the plan (FHIR Appointment); an :class:`Encounter` is what
actually took place (FHIR Encounter). A completed appointment usually has one encounter,
but encounters also exist without appointments (walk-ins, crisis visits, residential days
imported from an EHR), so the link is optional and points from the encounter.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code, LevelOfCare
from backend.db import Base


class AppointmentType(enum.StrEnum):
    """How the patient attends (FHIR Appointment.appointmentType, v2-0276 plus telehealth)."""

    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"


class ServiceType(enum.StrEnum):
    """The kind of service booked or delivered (FHIR serviceType); drives billing codes."""

    INTAKE = "intake"
    ASSESSMENT = "assessment"
    PSYCHIATRY = "psychiatry"
    THERAPY_INDIVIDUAL = "therapy_individual"
    THERAPY_GROUP = "therapy_group"
    THERAPY_FAMILY = "therapy_family"
    MEDICATION_MANAGEMENT = "medication_management"
    NURSING = "nursing"
    CASE_MANAGEMENT = "case_management"
    PEER_SUPPORT = "peer_support"
    CRISIS = "crisis"


class AppointmentStatus(enum.StrEnum):
    """FHIR appointmentstatus, with our names: ``completed`` is FHIR's ``fulfilled``."""

    PROPOSED = "proposed"
    BOOKED = "booked"
    ARRIVED = "arrived"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    ENTERED_IN_ERROR = "entered_in_error"


class CancelledBy(enum.StrEnum):
    """Who called the appointment off: no-show and late-cancel policies treat them apart."""

    PATIENT = "patient"
    PROVIDER = "provider"
    CLINIC = "clinic"
    PAYER = "payer"
    OTHER = "other"


class Appointment(PatientRecord, Base):
    """A booked (or requested) visit with a provider. FHIR Appointment.

    ``start_at``/``end_at`` are FHIR's ``start``/``end`` (``end`` is an SQL keyword);
    ``effective_at`` mirrors ``start_at`` so the patient timeline sorts appointments with
    everything else. The coded ``reason`` is FHIR reasonCode (ICD-10/SNOMED); ``reason_text``
    keeps what the patient or scheduler typed.
    """

    __tablename__ = "appointment"
    __extra_table_args__ = (
        # A provider's day and a site's day are the two schedule views.
        Index("ix_appointment_provider_id_start_at", "provider_id", "start_at"),
        Index("ix_appointment_location_id_start_at", "location_id", "start_at"),
    )

    appointment_type: Mapped[AppointmentType] = mapped_column(default=AppointmentType.IN_PERSON)
    service_type: Mapped[ServiceType] = mapped_column(index=True)
    # FHIR Appointment.specialty: SNOMED practice setting, e.g. 394587001 Psychiatry.
    specialty: Mapped[Code | None] = coded("specialty", nullable=True)
    status: Mapped[AppointmentStatus] = mapped_column(default=AppointmentStatus.BOOKED, index=True)
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None
    )
    reason_text: Mapped[str | None] = mapped_column(String(500), default=None)
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    requested_at: Mapped[datetime | None] = mapped_column(default=None)
    booked_at: Mapped[datetime | None] = mapped_column(default=None)
    booked_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(default=50)  # FHIR minutesDuration
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_by: Mapped[CancelledBy | None] = mapped_column(default=None)
    # FHIR cancelationReason (free text here; appointment-cancellation-reason is too coarse).
    cancel_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # Telehealth join URL. A masked field for most roles: it admits anyone who has it.
    video_link: Mapped[str | None] = mapped_column(String(500), default=None)
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    patient_instruction: Mapped[str | None] = mapped_column(Text, default=None)

    encounters: Mapped[list[Encounter]] = relationship(lazy="raise", back_populates="appointment")


class EncounterClass(enum.StrEnum):
    """FHIR Encounter.class (v3 ActCode: AMB, VR, IMP, ACUTE, EMER, HH ...)."""

    AMBULATORY = "ambulatory"
    VIRTUAL = "virtual"
    INPATIENT = "inpatient"
    RESIDENTIAL = "residential"
    EMERGENCY = "emergency"
    HOME_HEALTH = "home_health"
    FIELD = "field"  # mobile crisis, outreach


class EncounterStatus(enum.StrEnum):
    """FHIR encounter-status (R4)."""

    PLANNED = "planned"
    ARRIVED = "arrived"
    IN_PROGRESS = "in_progress"
    ON_LEAVE = "on_leave"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    ENTERED_IN_ERROR = "entered_in_error"


class Encounter(PatientRecord, Base):
    """A contact between the patient and the clinic in which care was given. FHIR Encounter.

    Clinical notes, observations and charges point here (``encounter.id``). ``type`` is
    FHIR Encounter.type (e.g. a CPT or SNOMED procedure code describing the visit);
    ``disposition`` is hospitalization.dischargeDisposition, used for outpatient visits
    too (return visit, referred out, admitted to a higher level of care).
    """

    __tablename__ = "encounter"
    __extra_table_args__ = (
        Index("ix_encounter_provider_id_period_start", "provider_id", "period_start"),
    )

    encounter_class: Mapped[EncounterClass] = mapped_column(default=EncounterClass.AMBULATORY)
    encounter_type: Mapped[Code | None] = coded("type", nullable=True)
    service_type: Mapped[ServiceType | None] = mapped_column(default=None, index=True)
    status: Mapped[EncounterStatus] = mapped_column(default=EncounterStatus.FINISHED, index=True)
    appointment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("appointment.id", ondelete="SET NULL"), default=None, index=True
    )
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    period_start: Mapped[datetime] = mapped_column(index=True)
    period_end: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[Code | None] = coded("reason", nullable=True)
    disposition: Mapped[Code | None] = coded("disposition", nullable=True)
    level_of_care: Mapped[LevelOfCare | None] = mapped_column(default=None, index=True)
    program: Mapped[str | None] = mapped_column(String(100), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # --- FHIR round-trip: what the columns above summarise --------------------------------
    # Encounter.class.code as sent (v3 ActCode AMB, IMP, ACUTE, SS, OBSENC, PRENC ...):
    # ``encounter_class`` folds several codes into one value.
    class_code: Mapped[str | None] = mapped_column(String(16), default=None)
    # Encounter.type[] and reasonCode[] as full CodeableConcepts ({"coding": [...], "text"})
    # when the source sent more than the one ``encounter_type`` / ``reason`` Code holds.
    type_concepts: Mapped[list[Any] | None] = mapped_column(default=None)
    reason_concepts: Mapped[list[Any] | None] = mapped_column(default=None)
    # Encounter.participant[] beyond ``provider_id``: [{"type": [CodeableConcept],
    # "staff_user_id": str | None, "reference": str | None, "period": {...}}].
    participants: Mapped[list[Any] | None] = mapped_column(default=None)
    # Encounter.serviceProvider: the organization responsible (an outside hospital on import).
    service_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None
    )
    # Encounter.hospitalization as FHIR JSON (admitSource, reAdmission, dischargeDisposition
    # in full, dietPreference, specialArrangement, origin/destination); ``disposition``
    # keeps the discharge disposition's Code for queries.
    hospitalization: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    appointment: Mapped[Appointment | None] = relationship(
        lazy="raise", back_populates="encounters"
    )
