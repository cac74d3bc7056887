"""Demo appointments and encounters: intake, a course of visits, no-shows, cancellations and
what is booked next.

Facts left for later generators:

* ``scheduling.encounters``: ``[(encounter_id, start, provider_id)]`` of finished encounters,
  in time order;
* ``scheduling.appointments``: ``[(appointment_id, start, status value)]``;
* ``scheduling.encounter_services``: ``{encounter_id: (service_type, appointment_type,
  minutes, level_of_care)}`` (values as strings) so billing can pick the right codes;
* ``scheduling.primary_reason``: ``(icd10_code, display, concern, is_part2)``: why the
  patient came, derived from ``journey.concern`` (the diagnosis of
  :class:`~backend.demo.journey_content.Concern`, ``concern`` being the intake form's
  answer for it), which billing and forms reuse;
* ``scheduling.level_of_care``: the program's level (a :class:`LevelOfCare` value).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.accounts.models import StaffRole
from backend.common.types import CodeSystem, LevelOfCare, Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at, between, new_id
from backend.demo.journey_content import Concern, concern_of
from backend.demo.sink import RowSink
from backend.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CancelledBy,
    Encounter,
    EncounterClass,
    EncounterStatus,
    ServiceType,
)

ENCOUNTER_TYPE_SYSTEM = "https://harborview.example.org/fhir/CodeSystem/encounter-type"
DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
VIDEO_BASE = "https://telehealth.harborview.example.org/j/"

SPECIALTY = {
    ServiceType.PSYCHIATRY: ("394587001", "Psychiatry"),
    ServiceType.MEDICATION_MANAGEMENT: ("394587001", "Psychiatry"),
    ServiceType.THERAPY_INDIVIDUAL: ("394913002", "Psychotherapy"),
    ServiceType.THERAPY_GROUP: ("394913002", "Psychotherapy"),
    ServiceType.THERAPY_FAMILY: ("394913002", "Psychotherapy"),
}
# service -> (who provides it, minutes, display of the encounter type)
SERVICE: dict[ServiceType, tuple[StaffRole, int, str]] = {
    ServiceType.INTAKE: (StaffRole.THERAPIST, 90, "Intake assessment"),
    ServiceType.PSYCHIATRY: (StaffRole.PHYSICIAN, 60, "Psychiatric evaluation"),
    ServiceType.THERAPY_INDIVIDUAL: (StaffRole.THERAPIST, 53, "Individual psychotherapy"),
    ServiceType.THERAPY_GROUP: (StaffRole.THERAPIST, 90, "Group psychotherapy"),
    ServiceType.THERAPY_FAMILY: (StaffRole.THERAPIST, 50, "Family psychotherapy"),
    ServiceType.MEDICATION_MANAGEMENT: (StaffRole.PHYSICIAN, 25, "Medication management"),
    ServiceType.NURSING: (StaffRole.NURSE, 20, "Nursing visit"),
    ServiceType.CASE_MANAGEMENT: (StaffRole.CARE_COORDINATOR, 30, "Case management"),
}
# Follow-up mix by level of care: (service, weight).
FOLLOW_UPS: dict[LevelOfCare, tuple[tuple[ServiceType, float], ...]] = {
    LevelOfCare.OUTPATIENT: (
        (ServiceType.THERAPY_INDIVIDUAL, 0.55),
        (ServiceType.MEDICATION_MANAGEMENT, 0.2),
        (ServiceType.PSYCHIATRY, 0.08),
        (ServiceType.THERAPY_FAMILY, 0.05),
        (ServiceType.CASE_MANAGEMENT, 0.12),
    ),
    LevelOfCare.INTENSIVE_OUTPATIENT: (
        (ServiceType.THERAPY_GROUP, 0.45),
        (ServiceType.THERAPY_INDIVIDUAL, 0.25),
        (ServiceType.MEDICATION_MANAGEMENT, 0.15),
        (ServiceType.CASE_MANAGEMENT, 0.1),
        (ServiceType.NURSING, 0.05),
    ),
}
REASON_TEXT = {
    ServiceType.INTAKE: "New patient intake assessment",
    ServiceType.PSYCHIATRY: "Psychiatric evaluation",
    ServiceType.THERAPY_INDIVIDUAL: "Weekly individual therapy",
    ServiceType.THERAPY_GROUP: "Group session",
    ServiceType.THERAPY_FAMILY: "Family session",
    ServiceType.MEDICATION_MANAGEMENT: "Medication follow-up",
    ServiceType.NURSING: "Vitals and injection",
    ServiceType.CASE_MANAGEMENT: "Benefits and housing follow-up",
}
CANCEL_REASONS: tuple[tuple[CancelledBy, str], ...] = (
    (CancelledBy.PATIENT, "Feeling unwell"),
    (CancelledBy.PATIENT, "Work conflict"),
    (CancelledBy.PATIENT, "No transportation"),
    (CancelledBy.PATIENT, "Childcare fell through"),
    (CancelledBy.PATIENT, "Rescheduled by patient via portal"),
    (CancelledBy.PROVIDER, "Provider out sick"),
    (CancelledBy.CLINIC, "Snow closure"),
    (CancelledBy.PAYER, "Authorization pending"),
)
COMMENTS = (
    None,
    None,
    None,
    "Prefers afternoon slots",
    "Interpreter requested",
    "Bring insurance card",
    "Parking validation at front desk",
)


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """No reference data: services and statuses are enums."""


def primary_reason(concern: Concern) -> tuple[str, str, str, bool]:
    """(ICD-10-CM code, display, intake-form concern, Part 2?) of the patient's concern."""
    diagnosis = concern.diagnosis
    return diagnosis.icd10, diagnosis.icd10_display, concern.intake, diagnosis.part2


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, "scheduling")
    reason = primary_reason(concern_of(patient.facts, rng))
    program = str(ctx.care_teams.get(patient.care_team_id, {}).get("program") or "outpatient")
    level = (
        LevelOfCare.INTENSIVE_OUTPATIENT
        if program == LevelOfCare.INTENSIVE_OUTPATIENT
        else LevelOfCare.OUTPATIENT
    )
    writer = _Writer(ctx, patient, rng, sink, reason, level, program)
    patient.facts["scheduling.primary_reason"] = reason
    patient.facts["scheduling.level_of_care"] = level.value
    if patient.admitted_at is None or patient.stage is JourneyStage.INQUIRY:
        writer.inquiry()
    else:
        writer.treatment(patient.admitted_at)
    writer.encounters.sort(key=lambda e: e[1])
    writer.appointments.sort(key=lambda a: a[1])
    patient.facts["scheduling.encounters"] = writer.encounters
    patient.facts["scheduling.appointments"] = writer.appointments
    patient.facts["scheduling.encounter_services"] = writer.services


class _Writer:
    """One patient's schedule; keeps the facts while rows are queued."""

    def __init__(
        self,
        ctx: DemoContext,
        patient: PatientSeed,
        rng: random.Random,
        sink: RowSink,
        reason: tuple[str, str, str, bool],
        level: LevelOfCare,
        program: str,
    ) -> None:
        self.ctx, self.patient, self.rng, self.sink = ctx, patient, rng, sink
        self.reason, self.level, self.program = reason, level, program
        self.sensitivity = Sensitivity.PART2 if reason[3] else Sensitivity.NONE
        self.encounters: list[tuple[uuid.UUID, datetime, uuid.UUID]] = []
        self.appointments: list[tuple[uuid.UUID, datetime, str]] = []
        self.services: dict[uuid.UUID, tuple[str, str, int, str]] = {}

    def inquiry(self) -> None:
        """0-1 intake appointment: mostly booked, cancelled or missed, never admitted."""
        rng, patient, now = self.rng, self.patient, self.ctx.now
        if rng.random() < 0.35:
            return
        start = at(patient.first_contact_at + timedelta(days=rng.randint(2, 10)), rng)
        if start > now:
            status = AppointmentStatus.BOOKED
        else:
            status = rng.choices(
                (
                    AppointmentStatus.NO_SHOW,
                    AppointmentStatus.CANCELLED,
                    AppointmentStatus.COMPLETED,
                ),
                weights=(0.35, 0.4, 0.25),
            )[0]
        self.appointment(ServiceType.INTAKE, start, status, requested=patient.first_contact_at)

    def treatment(self, admitted_at: datetime) -> None:
        rng, patient, now = self.rng, self.patient, self.ctx.now
        total = rng.randint(6, 8)
        upcoming = 0
        if patient.stage is JourneyStage.IN_TREATMENT:
            upcoming = rng.randint(1, 2)
        elif patient.discharged_at and patient.discharged_at > now - timedelta(days=60):
            upcoming = int(rng.random() < 0.5)  # an aftercare check-in
        requested = admitted_at - timedelta(days=rng.randint(2, 9))
        requested = max(patient.first_contact_at, requested)
        self.appointment(
            ServiceType.INTAKE, admitted_at, AppointmentStatus.COMPLETED, requested=requested
        )
        end = min(patient.discharged_at or now, now)
        last_day = end - timedelta(days=1)
        past = total - 1 - upcoming
        for n in range(past):
            # Spread follow-ups across the stay, each in its own slice so they keep order.
            lo = admitted_at + (last_day - admitted_at) * (n + 1) / (past + 1)
            hi = admitted_at + (last_day - admitted_at) * (n + 2) / (past + 1)
            day = between(rng, lo, hi) if last_day > admitted_at else admitted_at
            start = max(at(day, rng), admitted_at + timedelta(hours=2))
            status = rng.choices(
                (
                    AppointmentStatus.COMPLETED,
                    AppointmentStatus.NO_SHOW,
                    AppointmentStatus.CANCELLED,
                ),
                weights=(0.6, 0.15, 0.25),
            )[0]
            if start > now - timedelta(hours=4):  # admitted just now: book it instead
                start = at(now + timedelta(days=rng.randint(1, 14)), rng)
                status = AppointmentStatus.BOOKED
            self.appointment(self.follow_up(), start, status)
        if patient.stage is JourneyStage.IN_TREATMENT and rng.random() < 0.12:
            # Someone in the waiting room right now: the front-desk view has a live row.
            start = at(self.ctx.today, rng, 8, 11)
            status = rng.choice((AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN))
            self.appointment(self.follow_up(), start, status)
            upcoming = max(0, upcoming - 1)
        for _ in range(upcoming):
            start = at(now + timedelta(days=rng.randint(1, 28)), rng)
            status = AppointmentStatus.BOOKED if rng.random() < 0.85 else AppointmentStatus.PROPOSED
            service = (
                self.follow_up()
                if patient.discharged_at is None
                else ServiceType.THERAPY_INDIVIDUAL
            )
            self.appointment(service, start, status)

    def follow_up(self) -> ServiceType:
        mix = FOLLOW_UPS[self.level]
        service = self.rng.choices([m[0] for m in mix], weights=[m[1] for m in mix])[0]
        if service is ServiceType.NURSING or (
            self.reason[2] == "opioids" and self.rng.random() < 0.15
        ):
            return ServiceType.NURSING  # e.g. monthly naltrexone injections
        return service

    def appointment(
        self,
        service: ServiceType,
        start: datetime,
        status: AppointmentStatus,
        requested: datetime | None = None,
    ) -> None:
        rng, patient, ctx, now = self.rng, self.patient, self.ctx, self.ctx.now
        role, minutes, _ = SERVICE[service]
        if service is ServiceType.THERAPY_GROUP and self.level is LevelOfCare.INTENSIVE_OUTPATIENT:
            minutes = 180
        elif service is ServiceType.THERAPY_INDIVIDUAL and rng.random() < 0.35:
            minutes = 38
        end = start + timedelta(minutes=minutes)
        if status is AppointmentStatus.COMPLETED and end > now:
            status = AppointmentStatus.CHECKED_IN  # still in the room
        mode = self.mode(service)
        provider = ctx.team_member(patient, role, rng)
        requested = requested or max(
            patient.admitted_at or patient.first_contact_at,
            start - timedelta(days=rng.randint(3, 21)),
        )
        requested = min(requested, start, now)
        booked_at = min(requested + timedelta(hours=rng.randint(0, 48)), start, now)
        self_booked = rng.random() < 0.2
        booked_by = None if self_booked else ctx.team_member(patient, StaffRole.FRONT_DESK, rng)
        appointment_id = new_id(rng)
        row: dict[str, Any] = {}
        if status is AppointmentStatus.CANCELLED:
            cancelled_by, why = rng.choice(CANCEL_REASONS)
            cancelled_at = min(max(start - timedelta(hours=rng.randint(2, 72)), booked_at), now)
            row = {"cancelled_at": cancelled_at, "cancelled_by": cancelled_by}
            row |= {"cancel_reason": why, "updated_at": cancelled_at}
        elif status in (AppointmentStatus.ARRIVED, AppointmentStatus.CHECKED_IN):
            row = {"checked_in_at": min(start - timedelta(minutes=rng.randint(0, 15)), now)}
        reminder = start - timedelta(days=1)
        specialty = SPECIALTY.get(service)
        code, display, *_ = self.reason
        self.sink.add(
            Appointment,
            id=appointment_id,
            patient_id=patient.id,
            effective_at=start,
            recorded_at=booked_at,
            author_id=booked_by,
            sensitivity=self.sensitivity,
            appointment_type=mode,
            service_type=service,
            specialty_system=CodeSystem.SNOMED if specialty else None,
            specialty_code=specialty[0] if specialty else None,
            specialty_display=specialty[1] if specialty else None,
            status=status,
            provider_id=provider,
            location_id=patient.location_id if mode is AppointmentType.IN_PERSON else None,
            reason_text=REASON_TEXT[service],
            reason_system=CodeSystem.ICD10,
            reason_code=code,
            reason_display=display,
            requested_at=requested,
            booked_at=booked_at,
            booked_by_id=booked_by,
            start_at=start,
            end_at=end,
            minutes=minutes,
            reminder_sent_at=reminder if booked_at < reminder <= now else None,
            video_link=f"{VIDEO_BASE}{appointment_id.hex[:12]}"
            if mode is AppointmentType.VIDEO
            else None,
            comment=rng.choice(COMMENTS),
            **row,
        )
        self.appointments.append((appointment_id, start, status.value))
        if status in (AppointmentStatus.COMPLETED, AppointmentStatus.CHECKED_IN):
            self.encounter(appointment_id, service, mode, start, minutes, provider, status)

    def mode(self, service: ServiceType) -> AppointmentType:
        if service in (ServiceType.INTAKE, ServiceType.NURSING):
            return AppointmentType.IN_PERSON
        roll = self.rng.random()
        if service is ServiceType.MEDICATION_MANAGEMENT:
            return AppointmentType.VIDEO if roll < 0.5 else AppointmentType.IN_PERSON
        if roll < 0.3:
            return AppointmentType.VIDEO
        return AppointmentType.PHONE if roll < 0.36 else AppointmentType.IN_PERSON

    def encounter(
        self,
        appointment_id: uuid.UUID,
        service: ServiceType,
        mode: AppointmentType,
        scheduled: datetime,
        minutes: int,
        provider: uuid.UUID,
        status: AppointmentStatus,
    ) -> None:
        now = self.ctx.now
        start = min(scheduled + timedelta(minutes=self.rng.randint(0, 10)), now)
        finished = status is AppointmentStatus.COMPLETED
        level = self.level if self.patient.admitted_at else LevelOfCare.OUTPATIENT
        code, display, *_ = self.reason
        encounter_id = self.sink.add(
            Encounter,
            patient_id=self.patient.id,
            effective_at=start,
            author_id=provider,
            sensitivity=self.sensitivity,
            encounter_class=EncounterClass.AMBULATORY
            if mode is AppointmentType.IN_PERSON
            else EncounterClass.VIRTUAL,
            type_system=ENCOUNTER_TYPE_SYSTEM,
            type_code=service.value,
            type_display=SERVICE[service][2],
            service_type=service,
            status=EncounterStatus.FINISHED if finished else EncounterStatus.IN_PROGRESS,
            appointment_id=appointment_id,
            provider_id=provider,
            location_id=self.patient.location_id if mode is AppointmentType.IN_PERSON else None,
            period_start=start,
            period_end=min(start + timedelta(minutes=minutes), now) if finished else None,
            reason_system=CodeSystem.ICD10,
            reason_code=code,
            reason_display=display,
            disposition_system=DISPOSITION_SYSTEM if finished else None,
            disposition_code="home" if finished else None,
            disposition_display="Home" if finished else None,
            level_of_care=level,
            program=self.program,
        )
        if finished:
            self.encounters.append((encounter_id, start, provider))
            self.services[encounter_id] = (service.value, mode.value, minutes, level.value)
