"""The parts of an exported Patient resource that are rows of their own: ``identifier``
(PatientIdentifier) and ``contact`` (EmergencyContact).

Both are read through the access layer like every exported record (one query per type
for a page of patients, row scope, field masks, the contact row rule of
:mod:`backend.access.sensitivity`), so a masked field is simply absent from the element
and :attr:`PatientParts.withheld` tells the caller to label the Patient. SSNs are never
exported: only a keyed hash and the last four digits are stored, and neither is an
identifier anyone else can use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.masking import Withheld
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.interop.fhir.renderers import TERM, clean, iso
from backend.patients.models import IdentifierKind, PatientIdentifier
from backend.patients.records import EmergencyContactView
from backend.record.categories import EMERGENCY_CONTACTS

V2_0203 = TERM + "v2-0203"
V2_0131 = TERM + "v2-0131"
TYPE_CODES = {
    IdentifierKind.MRN: "MR",
    IdentifierKind.MEMBER_ID: "MB",
    IdentifierKind.DRIVERS_LICENSE: "DL",
    IdentifierKind.PASSPORT: "PPN",
}
"""v2-0203 type codes of our identifier kinds, for identifiers stored without one."""
EMERGENCY = {"system": V2_0131, "code": "C", "display": "Emergency Contact"}


@dataclass(frozen=True, slots=True)
class IdentifierView:
    """What an exported identifier carries: never ``value_hash`` or ``last4``."""

    id: uuid.UUID
    kind: str | None = None
    system: str | None = None
    value: str | None = None
    type_code: str | None = None
    assigner: str | None = None
    period_end: date | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PatientParts:
    """One patient's identifiers and emergency contacts as the caller may see them;
    ``withheld``: a field (or a whole type) was kept from the caller."""

    identifiers: tuple[IdentifierView, ...] = ()
    contacts: tuple[EmergencyContactView, ...] = ()
    withheld: bool = False


def patient_parts(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Sequence[uuid.UUID],
    log: ReadLog,
    now: datetime,
) -> dict[uuid.UUID, PatientParts]:
    """Each patient's parts, in two queries whatever the number of patients."""
    identifiers = list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=PatientIdentifier,
        view=IdentifierView,
        patient_ids=patient_ids,
        order_by=(PatientIdentifier.kind, PatientIdentifier.system, PatientIdentifier.id),
        log=log,
        now=now,
        where=(PatientIdentifier.kind != IdentifierKind.SSN,),
    )
    contacts: dict[uuid.UUID, list[EmergencyContactView]] | None = EMERGENCY_CONTACTS.list(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=patient_ids,
        log=log,
        now=now,
    )
    whole_type_withheld = identifiers is None or contacts is None
    out = {}
    for patient_id in patient_ids:
        own_ids = tuple((identifiers or {}).get(patient_id, ()))
        own_contacts = tuple((contacts or {}).get(patient_id, ()))
        masked = any(i.withheld for i in own_ids) or any(c.withheld for c in own_contacts)
        out[patient_id] = PatientParts(own_ids, own_contacts, whole_type_withheld or masked)
    return out


def render_identifier(view: IdentifierView) -> dict[str, Any]:
    kind = IdentifierKind(view.kind) if view.kind else None
    code = view.type_code or (TYPE_CODES.get(kind) if kind else None)
    return clean(
        {
            "type": {"coding": [{"system": V2_0203, "code": code}]} if code else None,
            "system": view.system,
            "value": view.value,
            "period": {"end": iso(view.period_end)} if view.period_end else None,
            "assigner": {"display": view.assigner} if view.assigner else None,
        }
    )


def render_contact(view: EmergencyContactView) -> dict[str, Any]:
    """Patient.contact: why they are listed (v2-0131 ``C``), who they are to the patient
    (our code or the text as given), their name and how to reach them."""
    relationship: list[dict[str, Any]] = [{"coding": [dict(EMERGENCY)]}]
    if view.relationship_to_patient:
        relationship.append({"text": view.relationship_to_patient})
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", view.phone), ("email", view.email))
        if value
    ]
    return clean(
        {
            "relationship": relationship,
            "name": {"text": view.name} if view.name else None,
            "telecom": telecom,
        }
    )


def render_parts(parts: PatientParts) -> dict[str, Any]:
    """The ``identifier`` and ``contact`` elements of the Patient resource."""
    return clean(
        {
            "identifier": [render_identifier(i) for i in parts.identifiers],
            # pat-1: a contact says who or how to reach them; one masked down to neither
            # is left out (the Patient is labelled either way).
            "contact": [render_contact(c) for c in parts.contacts if c.name or c.phone or c.email],
        }
    )
