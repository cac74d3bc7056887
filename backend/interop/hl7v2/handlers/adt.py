"""ADT: admit (A01), discharge (A03), register (A04), update (A08), merge (A40).

A01 opens an :class:`Admission` (EpisodeOfCare) and an in-progress :class:`Encounter`,
both keyed by the visit number (PV1-19). A03 closes them with a :class:`Discharge`; a
sender that sends no visit number discharges the patient's open admission from that
source, and a discharge for an admission we never saw creates it from PV1 (feeds are
often switched on mid-stay) with a warning on the message.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backend.access.policy import policy_store
from backend.common.errors import DomainError
from backend.common.mixins import utcnow
from backend.common.types import Code, LevelOfCare
from backend.identity.merge import merge_patients
from backend.identity.models import LinkMethod
from backend.identity.routing import resolve_survivor
from backend.interop.hl7v2.handlers.common import (
    Identifier,
    MessageContext,
    check_pid,
    coded,
    event_time,
    find_patient,
    forget_children,
    forget_created,
    identifiers,
    patient_from_pid,
    upsert,
)
from backend.interop.hl7v2.parse import Header, Hl7ContentError, first, get, optional_datetime
from backend.journey.models import Admission, AdmissionStatus, Discharge, DischargeDisposition
from backend.patients.models import Patient, PatientStatus
from backend.scheduling.models import Encounter, EncounterClass, EncounterStatus
from backend.settings import get_settings

DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0112"
_CLASS = {
    "I": (EncounterClass.INPATIENT, "IMP", LevelOfCare.INPATIENT),
    "E": (EncounterClass.EMERGENCY, "EMER", LevelOfCare.UNKNOWN),
    "O": (EncounterClass.AMBULATORY, "AMB", LevelOfCare.OUTPATIENT),
    "R": (EncounterClass.AMBULATORY, "AMB", LevelOfCare.OUTPATIENT),
    "B": (EncounterClass.AMBULATORY, "AMB", LevelOfCare.OUTPATIENT),
}
_DISPOSITION = {
    "01": DischargeDisposition.COMPLETED_PROGRAM,
    "06": DischargeDisposition.COMPLETED_PROGRAM,
    "02": DischargeDisposition.HOSPITALIZED,
    "03": DischargeDisposition.TRANSFERRED,
    "04": DischargeDisposition.TRANSFERRED,
    "05": DischargeDisposition.TRANSFERRED,
    "07": DischargeDisposition.LEFT_AGAINST_ADVICE,
    "20": DischargeDisposition.DECEASED,
    "21": DischargeDisposition.INCARCERATED,
}


def check_register(message: Any, header: Header) -> None:
    """What makes an A04 / A08 wrong before any record is read: its PID."""
    check_pid(message, header)


def register(ctx: MessageContext) -> list[uuid.UUID]:
    """A04 / A08: the patient with identifiers, contact points and addresses."""
    return [patient_from_pid(ctx).id]


def _pv1(message: Any) -> Any:
    pv1 = first(message, "PV1")
    if pv1 is None:
        raise Hl7ContentError("PV1", "an admit or discharge needs a PV1 segment", code="100")
    return pv1


def check_admit(message: Any, header: Header) -> Any:
    """What makes an A01 wrong before any record is read: PID, PV1 and the times
    (EVN-2, PV1-44 admitted); returns the PV1."""
    check_pid(message, header)
    pv1 = _pv1(message)
    event_time(message)
    optional_datetime(pv1, 44)
    return pv1


def check_discharge(message: Any, header: Header) -> Any:
    """An A03: as an A01, and PV1-45 (discharged); returns the PV1."""
    pv1 = check_admit(message, header)
    optional_datetime(pv1, 45)
    return pv1


def _visit_key(pv1: Any, patient: Patient) -> str | None:
    visit = get(pv1, 19)
    return f"visit:{visit}" if visit else None


def _open_admission(ctx: MessageContext, patient: Patient) -> Admission | None:
    return ctx.session.scalars(
        select(Admission)
        .where(
            Admission.patient_id == patient.id,
            Admission.source_system == ctx.source_system,
            Admission.status == AdmissionStatus.ACTIVE,
            Admission.deleted_at.is_(None),
        )
        .order_by(Admission.admitted_at.desc())
    ).first()


def _admit(
    ctx: MessageContext, patient: Patient, pv1: Any, key: str, admitted_at: datetime
) -> tuple[Admission, Encounter]:
    encounter_class, class_code, level = _CLASS.get(
        get(pv1, 2).upper(), (EncounterClass.AMBULATORY, "AMB", LevelOfCare.UNKNOWN)
    )
    admission, _ = upsert(ctx.session, Admission, ctx.source_system, key)
    admission.patient_id = patient.id
    admission.program = (get(pv1, 10) or encounter_class.value)[:100]
    admission.level_of_care = level
    admission.admitted_at = admitted_at
    admission.effective_at = admitted_at
    if admission.status is None:
        admission.status = AdmissionStatus.ACTIVE
    encounter, _ = upsert(ctx.session, Encounter, ctx.source_system, key)
    encounter.patient_id = patient.id
    encounter.encounter_class = encounter_class
    encounter.class_code = class_code
    encounter.period_start = admitted_at
    encounter.effective_at = admitted_at
    encounter.level_of_care = level
    pv2 = first(ctx.message, "PV2")
    encounter.reason = coded(pv2, 3) if pv2 is not None else None
    if encounter.status is None:
        encounter.status = EncounterStatus.IN_PROGRESS
    return admission, encounter


def admit(ctx: MessageContext) -> list[uuid.UUID]:
    """A01: the patient, an active admission and an in-progress encounter."""
    pv1 = check_admit(ctx.message, ctx.header)
    patient = patient_from_pid(ctx)
    admitted_at = optional_datetime(pv1, 44) or ctx.event_at
    key = _visit_key(pv1, patient) or f"admit:{patient.source_id}|{admitted_at:%Y%m%d%H%M%S}"
    admission, encounter = _admit(ctx, patient, pv1, key, admitted_at)
    admission.status = AdmissionStatus.ACTIVE
    encounter.status = EncounterStatus.IN_PROGRESS
    return [patient.id]


def discharge(ctx: MessageContext) -> list[uuid.UUID]:
    """A03: close the admission and its encounter with a Discharge."""
    pv1 = check_discharge(ctx.message, ctx.header)
    patient = patient_from_pid(ctx)
    discharged_at = optional_datetime(pv1, 45) or ctx.event_at
    key = _visit_key(pv1, patient)
    admission = None
    if key is None:
        admission = _open_admission(ctx, patient)
        key = admission.source_id if admission is not None else None
    if key is None:
        admitted_at = optional_datetime(pv1, 44) or discharged_at
        key = f"admit:{patient.source_id}|{admitted_at:%Y%m%d%H%M%S}"
    existing = ctx.session.scalars(
        select(Admission).where(
            Admission.source_system == ctx.source_system, Admission.source_id == key
        )
    ).first()
    if existing is None:
        ctx.warnings.append("A03 for an admission never received: created from PV1")
    admitted_at = (
        existing.admitted_at
        if existing is not None
        else optional_datetime(pv1, 44) or discharged_at
    )
    admission, encounter = _admit(ctx, patient, pv1, key, admitted_at)
    admission.status = AdmissionStatus.FINISHED
    admission.ended_at = discharged_at
    encounter.status = EncounterStatus.FINISHED
    encounter.period_end = discharged_at
    ctx.session.flush()
    record, _ = upsert(ctx.session, Discharge, ctx.source_system, key)
    record.patient_id = patient.id
    record.admission_id = admission.id
    record.discharged_at = discharged_at
    record.effective_at = discharged_at
    code = get(pv1, 36)
    record.disposition = _DISPOSITION.get(code, DischargeDisposition.OTHER)
    record.fhir_disposition = Code(DISPOSITION_SYSTEM, code[:64], None) if code else None
    record.discharged_to = get(pv1, 37)[:200] or None
    encounter.disposition = record.fhir_disposition
    return [patient.id]


def check_merge(message: Any, header: Header) -> Identifier:
    """What makes an A40 wrong before any record is read: MRG, MRG-1 and the PID; returns
    the prior patient's identifier (its authority defaults to the PID MRN's). Whether
    that patient is known only the database can tell."""
    mrg = first(message, "MRG")
    if mrg is None:
        raise Hl7ContentError("MRG", "an A40 merge needs an MRG segment", code="100")
    _, fallback = check_pid(message, header)
    prior_ids = identifiers(mrg, 1)
    if not prior_ids:
        raise Hl7ContentError("MRG-1", "no prior patient identifier", code="101")
    prior_id = prior_ids[0]
    if not prior_id.authority:
        prior_id = type(prior_id)(prior_id.value, fallback.authority, prior_id.type_code)
    return prior_id


def merge(ctx: MessageContext) -> list[uuid.UUID]:
    """A40: merge the MRG-1 patient into the PID patient, through the merge service."""
    prior_id = check_merge(ctx.message, ctx.header)
    survivor = patient_from_pid(ctx)
    prior = find_patient(ctx.session, prior_id, follow_merges=False)
    if prior is None:
        raise Hl7ContentError("MRG-1", "the prior patient is not known here", code="204")
    if prior.id == survivor.id:
        raise Hl7ContentError("MRG-1", "the prior patient is the surviving patient", code="102")
    if prior.status is PatientStatus.MERGED:
        # A resend after the merge, or a merge done here first: nothing left to do when it
        # already points at this survivor, a content error when it points elsewhere.
        if resolve_survivor(ctx.session, prior.id) == survivor.id:
            ctx.warnings.append("MRG-1 was already merged into this patient")
            return [survivor.id, prior.id]
        raise Hl7ContentError("MRG-1", "the prior patient was merged into another", code="102")
    forget_created(ctx.session, survivor.id)  # it takes the prior patient's rows
    try:
        merge_patients(
            session=ctx.session,
            principal=None,  # the sending system, recorded as the merge's reason
            policy=policy_store(get_settings().policies_dir).current(),
            survivor_id=survivor.id,
            merged_id=prior.id,
            reason=f"HL7 ADT^A40 from {ctx.header.source} ({ctx.header.control_id})"[:2000],
            now=utcnow(),
            method=LinkMethod.RULE,
        )
    except DomainError as exc:
        raise Hl7ContentError("MRG-1", exc.message, code="207") from None
    forget_children(ctx.session)  # the prior patient's rows are the survivor's now
    return [survivor.id, prior.id]
