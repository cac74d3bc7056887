"""Encounter and Appointment."""

from __future__ import annotations

from typing import Any

from backend.interop.fhir.mapping.base import (
    MapContext,
    MappingError,
    Row,
    code_columns,
    concept_beyond,
    enum_of,
    parse_datetime,
    period,
    text_of,
)
from backend.interop.fhir.mapping.common import patient_columns
from backend.scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Encounter,
    EncounterClass,
    EncounterStatus,
    ServiceType,
)

# v3 ActCode -> our coarse class; the code as sent stays in ``class_code``.
CLASS_CODES = {
    "AMB": EncounterClass.AMBULATORY,
    "VR": EncounterClass.VIRTUAL,
    "IMP": EncounterClass.INPATIENT,
    "ACUTE": EncounterClass.INPATIENT,
    "NONAC": EncounterClass.RESIDENTIAL,
    "SS": EncounterClass.INPATIENT,
    "OBSENC": EncounterClass.INPATIENT,
    "EMER": EncounterClass.EMERGENCY,
    "HH": EncounterClass.HOME_HEALTH,
    "FLD": EncounterClass.FIELD,
    "PRENC": EncounterClass.AMBULATORY,
    "wellness": EncounterClass.AMBULATORY,  # Synthea's early bundles
    "ambulatory": EncounterClass.AMBULATORY,
    "outpatient": EncounterClass.AMBULATORY,
    "inpatient": EncounterClass.INPATIENT,
    "emergency": EncounterClass.EMERGENCY,
}
ENCOUNTER_STATUS = {"triaged": EncounterStatus.ARRIVED, "unknown": EncounterStatus.FINISHED}
APPOINTMENT_STATUS = {
    "fulfilled": AppointmentStatus.COMPLETED,
    "noshow": AppointmentStatus.NO_SHOW,
    "pending": AppointmentStatus.PROPOSED,
    "waitlist": AppointmentStatus.PROPOSED,
}


def map_encounter(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Encounter")
    start, end = period(res.get("period"), "Encounter.period")
    if start is None:
        raise MappingError("Encounter.period.start", "an encounter needs a start")
    klass = res.get("class") or {}
    class_code = klass.get("code")
    types = res.get("type") or []
    reasons = res.get("reasonCode") or []
    provider_id = None
    participants: list[Any] = []
    for i, part in enumerate(res.get("participant", [])):
        staff = ctx.optional(part.get("individual"), f"Encounter.participant[{i}]", "Practitioner")
        if provider_id is None and staff is not None:
            provider_id = staff
            continue
        participants.append(
            {
                "type": part.get("type"),
                "staff_user_id": str(staff) if staff else None,
                "reference": (part.get("individual") or {}).get("reference"),
                "period": part.get("period"),
            }
        )
    hospitalization = res.get("hospitalization")
    values.update(
        encounter_class=CLASS_CODES.get(class_code or "", EncounterClass.AMBULATORY),
        class_code=(class_code or "")[:16] or None,
        status=enum_of(EncounterStatus, res.get("status"), "Encounter.status", ENCOUNTER_STATUS),
        effective_at=start,
        period_start=start,
        period_end=end,
        provider_id=provider_id,
        participants=participants or None,
        service_provider_id=ctx.optional(
            res.get("serviceProvider"), "Encounter.serviceProvider", "Organization"
        ),
        appointment_id=ctx.optional(
            (res.get("appointment") or [None])[0], "Encounter.appointment", "Appointment"
        ),
        hospitalization=hospitalization,
        **code_columns("type", types[0] if types else None, "Encounter.type", required=False),
        **code_columns(
            "reason", reasons[0] if reasons else None, "Encounter.reasonCode", required=False
        ),
        type_concepts=types if len(types) > 1 or any(concept_beyond(t) for t in types) else None,
        reason_concepts=(
            reasons if len(reasons) > 1 or any(concept_beyond(r) for r in reasons) else None
        ),
    )
    if isinstance(hospitalization, dict):
        values.update(
            code_columns(
                "disposition",
                hospitalization.get("dischargeDisposition"),
                "Encounter.hospitalization.dischargeDisposition",
                required=False,
            )
        )
    return [Row(Encounter, ctx.source_system, res["id"], values)]


def _service_type(res: dict[str, Any]) -> ServiceType:
    """Our service type from serviceType text; intake when nothing says otherwise."""
    words = " ".join(
        (c.get("text") or "") + " " + " ".join(d.get("display") or "" for d in c.get("coding", []))
        for c in res.get("serviceType", [])
    ).lower()
    for kind in ServiceType:
        if kind.value.replace("_", " ") in words or kind.value.split("_")[0] in words.split():
            return kind
    return ServiceType.INTAKE


def map_appointment(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    patient_ref = None
    for i, part in enumerate(res.get("participant", [])):
        target = ctx.resolve(part.get("actor"), f"Appointment.participant[{i}].actor")
        if target is not None and target.resource_type == "Patient":
            patient_ref = part.get("actor")
            break
    values = patient_columns({"subject": patient_ref, **res}, ctx, "Appointment")
    start = parse_datetime(res.get("start"), "Appointment.start")
    end = parse_datetime(res.get("end"), "Appointment.end")
    if start is None or end is None:
        raise MappingError("Appointment.start", "an appointment needs a start and an end")
    provider_id = None
    for i, part in enumerate(res.get("participant", [])):
        provider_id = provider_id or ctx.optional(
            part.get("actor"), f"Appointment.participant[{i}].actor", "Practitioner"
        )
    appointment_type = AppointmentType.IN_PERSON
    kind = ((res.get("appointmentType") or {}).get("coding") or [{}])[0].get("code")
    if kind in ("VR", "video"):
        appointment_type = AppointmentType.VIDEO
    reasons = res.get("reasonCode") or []
    minutes = res.get("minutesDuration") or max(1, int((end - start).total_seconds() // 60))
    values.update(
        status=enum_of(
            AppointmentStatus, res.get("status"), "Appointment.status", APPOINTMENT_STATUS
        ),
        service_type=_service_type(res),
        appointment_type=appointment_type,
        start_at=start,
        end_at=end,
        effective_at=start,
        minutes=minutes,
        provider_id=provider_id,
        comment=res.get("comment"),
        patient_instruction=res.get("patientInstruction"),
        reason_text=text_of(res.get("description"), 500),
        cancel_reason=text_of(((res.get("cancelationReason") or {}).get("text")), 255),
        requested_at=parse_datetime(res.get("created"), "Appointment.created"),
        **code_columns(
            "reason", reasons[0] if reasons else None, "Appointment.reasonCode", required=False
        ),
    )
    specialty = res.get("specialty") or []
    values.update(
        code_columns("specialty", specialty[0] if specialty else None, "", required=False)
    )
    return [Row(Appointment, ctx.source_system, res["id"], values)]
