"""SIU scheduling: S12 book, S13 reschedule, S14 modify, S15 cancel -> Appointment.

The appointment is keyed by the filler's appointment id (SCH-2, else the placer's
SCH-1), so every later SIU about it updates the same row. Times come from TQ1-7/8
(v2.5+), else SCH-11 components 4/5 (older senders), else AIS-4 plus a duration.

``service_type`` is required by our model but HL7 has no such field: it is guessed from
the appointment type and service texts (SCH-7, SCH-8, AIS-3) and is ``assessment`` when
nothing matches; the sender's own codes are kept in ``reason`` and ``comment``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.interop.hl7v2.handlers.common import (
    MessageContext,
    check_pid,
    coded,
    event_time,
    patient_from_pid,
    upsert,
)
from backend.interop.hl7v2.parse import (
    Header,
    Hl7ContentError,
    first,
    get,
    optional_datetime,
    segments,
)
from backend.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CancelledBy,
    ServiceType,
)

_FILLER_STATUS = {
    "BOOKED": AppointmentStatus.BOOKED,
    "PENDING": AppointmentStatus.PROPOSED,
    "WAITLIST": AppointmentStatus.PROPOSED,
    "CANCELLED": AppointmentStatus.CANCELLED,
    "DELETED": AppointmentStatus.CANCELLED,
    "COMPLETE": AppointmentStatus.COMPLETED,
    "NOSHOW": AppointmentStatus.NO_SHOW,
    "STARTED": AppointmentStatus.ARRIVED,
}
_KEYWORDS = (
    ("intake", ServiceType.INTAKE),
    ("psychiatr", ServiceType.PSYCHIATRY),
    ("group", ServiceType.THERAPY_GROUP),
    ("family", ServiceType.THERAPY_FAMILY),
    ("therap", ServiceType.THERAPY_INDIVIDUAL),
    ("counsel", ServiceType.THERAPY_INDIVIDUAL),
    ("medication", ServiceType.MEDICATION_MANAGEMENT),
    ("crisis", ServiceType.CRISIS),
    ("case manage", ServiceType.CASE_MANAGEMENT),
    ("peer", ServiceType.PEER_SUPPORT),
    ("nurs", ServiceType.NURSING),
)
_UNIT_MINUTES = {"S": 1 / 60, "SEC": 1 / 60, "MIN": 1.0, "M": 1.0, "H": 60.0, "HR": 60.0}


def _minutes(amount: str, unit: str) -> int | None:
    """A duration in minutes from an amount and a unit (UCUM-ish: s, min, h)."""
    try:
        value = float(amount)
    except ValueError:
        return None
    return max(1, round(value * _UNIT_MINUTES.get(unit.upper().removesuffix("UTES"), 1.0)))


def _times(message: Any) -> tuple[datetime, datetime]:
    sch, tq1, ais = (first(message, name) for name in ("SCH", "TQ1", "AIS"))
    start = optional_datetime(tq1, 7) or optional_datetime(sch, 11, comp=4)
    end = optional_datetime(tq1, 8) or optional_datetime(sch, 11, comp=5)
    start = start or optional_datetime(ais, 4)
    if start is None:
        raise Hl7ContentError("TQ1-7", "the appointment has no start time", code="101")
    if end is None or end <= start:
        minutes = _minutes(get(ais, 7), get(ais, 8)) or _minutes(get(sch, 9), get(sch, 10))
        end = start + timedelta(minutes=minutes or 30)
    return start, end


def _service_type(texts: list[str]) -> ServiceType:
    joined = " ".join(texts).lower()
    for keyword, service in _KEYWORDS:
        if keyword in joined:
            return service
    return ServiceType.ASSESSMENT


def check_schedule(message: Any, header: Header) -> tuple[Any, str, tuple[datetime, datetime]]:
    """What makes an SIU wrong before any record is read: SCH and its appointment id,
    PID-3, the times (TQ1-7 ...) and EVN-2; returns the SCH, the id and the times."""
    sch = first(message, "SCH")
    if sch is None:
        raise Hl7ContentError("SCH", "a scheduling message needs an SCH segment", code="100")
    appointment_id = get(sch, 2) or get(sch, 1)
    if not appointment_id:
        raise Hl7ContentError("SCH-2", "no filler or placer appointment id", code="101")
    check_pid(message, header, demographics=False)
    times = _times(message)
    event_time(message)
    return sch, appointment_id, times


def schedule(ctx: MessageContext) -> list[uuid.UUID]:
    """S12-S15: create or update the appointment; S15 cancels it."""
    sch, appointment_id, (start, end) = check_schedule(ctx.message, ctx.header)
    patient = patient_from_pid(ctx, update=False)
    ais = first(ctx.message, "AIS")
    appointment, created = upsert(
        ctx.session, Appointment, ctx.source_system, f"appt:{appointment_id}"
    )
    appointment.patient_id = patient.id
    appointment.start_at, appointment.end_at = start, end
    appointment.effective_at = start
    appointment.minutes = max(1, int((end - start).total_seconds() // 60))
    texts = [get(sch, 7, comp=2) or get(sch, 7), get(sch, 8, comp=2) or get(sch, 8)]
    texts.append(get(ais, 3, comp=2))
    appointment.service_type = _service_type(texts)
    kind = (get(sch, 8, comp=2) or get(sch, 8)).lower()
    appointment.appointment_type = (
        AppointmentType.VIDEO
        if "video" in kind or "tele" in kind
        else AppointmentType.PHONE
        if "phone" in kind
        else AppointmentType.IN_PERSON
    )
    appointment.reason = coded(ais, 3) if ais is not None else None
    appointment.reason = appointment.reason or coded(sch, 7)
    appointment.reason_text = (texts[0] or None) and texts[0][:500]
    notes = [get(nte, 3) for nte in segments(ctx.message, "NTE") if get(nte, 3)]
    appointment.comment = "\n".join(notes) or None
    trigger = ctx.header.trigger.upper()
    filler = get(sch, 25).upper().replace("-", "").replace(" ", "")
    if trigger == "S15":
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = ctx.event_at
        appointment.cancelled_by = CancelledBy.OTHER
        appointment.cancel_reason = (get(sch, 6, comp=2) or get(sch, 6))[:255] or None
    else:
        appointment.status = _FILLER_STATUS.get(filler, AppointmentStatus.BOOKED)
        if created or trigger == "S12":
            appointment.booked_at = ctx.event_at
    return [patient.id]
