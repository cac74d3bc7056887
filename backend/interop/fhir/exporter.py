"""``Patient/$everything``: a patient's record as FHIR R4, seen through the caller's access.

Every record type is read with :func:`backend.access.listing.list_patient_records` (row
scope, Part 2 and psychotherapy rules, field masks: the same path as the GraphQL API);
the patient with :func:`backend.patients.service.get_patient` and its identifiers and
emergency contacts with :mod:`backend.interop.fhir.patient_parts`. A withheld field is left
out of the resource and the resource is labelled REDACTED in ``meta.security``; a type
the caller may not read at all is left out and the Bundle is labelled instead. Reads are
audited as one ``export`` event per patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, make_dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.listing import list_patient_records
from backend.access.masking import Withheld
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.billing.models import Charge, Coverage, Invoice
from backend.careplans.models import CarePlan, Goal
from backend.clinical.models import (
    Allergy,
    ClinicalNote,
    Condition,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Procedure,
)
from backend.clinical.results import DiagnosticReport
from backend.common.mixins import utcnow
from backend.engagement.models import Communication, Consent
from backend.forms.models import FormDefinition, FormResponse
from backend.interop.fhir.patient_parts import PatientParts, patient_parts, render_parts
from backend.interop.fhir.renderers import (
    Related,
    clean,
    coding,
    concept,
    iso,
    ref,
    render_allergy,
    render_appointment,
    render_care_plan,
    render_claim,
    render_communication,
    render_consent,
    render_coverage,
    render_eob,
    render_goal,
    render_imaging_study,
    render_note,
    render_questionnaire_response,
    render_raw,
)
from backend.interop.models import RawReason, RawResource
from backend.patients.service import get_patient
from backend.scheduling.models import Appointment, Encounter

REDACTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "REDACTED",
    "display": "redacted",
}
SKIP = {"version", "recorded_at", "updated_at", "deleted_at", "author_id", "patient_id"}


def _view(model: Any) -> Any:
    """A frozen view with every column of ``model`` (names are the policy's field names)."""
    names = [c.name for c in model.__table__.columns if c.name not in SKIP and c.name != "id"]
    return make_dataclass(
        f"Fhir{model.__name__}View",
        [
            ("id", uuid.UUID),
            *((n, Any, field(default=None)) for n in names),
            ("withheld", tuple[Withheld, ...], field(default=())),
        ],
        frozen=True,
    )


def render_encounter(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    status = (v.get("status") or "unknown").replace("_", "-")
    return clean(
        {
            "resourceType": "Encounter",
            "id": str(v["id"]),
            "status": status,
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": v.get("class_code") or "AMB",
            },
            "type": v.get("type_concepts") or ([concept(v, "type")] if coding(v, "type") else None),
            "reasonCode": v.get("reason_concepts")
            or ([concept(v, "reason")] if coding(v, "reason") else None),
            "subject": {"reference": patient},
            "period": clean({"start": iso(v.get("period_start")), "end": iso(v.get("period_end"))}),
            "participant": [{"individual": ref("Practitioner", v["provider_id"])}]
            if v.get("provider_id")
            else None,
            "serviceProvider": ref("Organization", v.get("service_provider_id")),
        }
    )


def render_condition(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    term = "http://terminology.hl7.org/CodeSystem/"
    return clean(
        {
            "resourceType": "Condition",
            "id": str(v["id"]),
            "clinicalStatus": {
                "coding": [{"system": term + "condition-clinical", "code": v["clinical_status"]}]
            }
            if v.get("clinical_status")
            else None,
            "verificationStatus": {
                "coding": [
                    {
                        "system": term + "condition-ver-status",
                        "code": v["verification_status"].replace("_", "-"),
                    }
                ]
            }
            if v.get("verification_status")
            else None,
            "code": concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "onsetDateTime": iso(v.get("onset_at")),
            "abatementDateTime": iso(v.get("abatement_at")),
            "recordedDate": iso(v.get("effective_at")),
        }
    )


def render_observation(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if v.get("value_quantity") is not None:
        number = float(v["value_precise"]) if v.get("value_precise") else iso(v["value_quantity"])
        unit = v.get("value_unit")
        value["valueQuantity"] = clean(
            {
                "value": number,
                "unit": unit,
                "code": unit,
                "system": "http://unitsofmeasure.org" if unit else None,
            }
        )
    elif coding(v, "value_code"):
        value["valueCodeableConcept"] = concept(v, "value_code", "value_concept")
    elif v.get("value_text") is not None:
        value["valueString"] = v["value_text"]
    elif v.get("value_other"):
        value["value" + v["value_other"]["type"]] = v["value_other"]["value"]
    components = []
    for c in v.get("components") or []:
        comp: dict[str, Any] = {
            "code": {
                "coding": [
                    clean(
                        {
                            "system": c.get("system", "http://loinc.org"),
                            "code": c.get("code"),
                            "display": c.get("display"),
                        }
                    )
                ]
            }
        }
        if c.get("text"):
            comp["code"]["text"] = c["text"]
        if c.get("value_type"):
            comp["value" + c["value_type"]] = c.get("value")
        elif c.get("value") is not None:
            comp["valueQuantity"] = clean(
                {
                    "value": c["value"],
                    "unit": c.get("unit_display") or c.get("unit"),
                    "code": c.get("unit"),
                    "system": "http://unitsofmeasure.org",
                }
            )
        components.append(comp)
    category = (v.get("category") or "exam").replace("_", "-")
    return clean(
        {
            "resourceType": "Observation",
            "id": str(v["id"]),
            "status": (v.get("status") or "unknown").replace("_", "-"),
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": category,
                        }
                    ]
                }
            ],
            "code": concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "effectiveDateTime": iso(v.get("effective_at")),
            "issued": iso(v.get("issued_at")),
            "component": components,
            **value,
        }
    )


def render_report(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "DiagnosticReport",
            "id": str(v["id"]),
            "status": (v.get("status") or "unknown").replace("_", "-"),
            "code": concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "effectiveDateTime": iso(v.get("effective_at")),
            "issued": iso(v.get("issued_at")),
            "conclusion": v.get("conclusion"),
            "presentedForm": v.get("presented_form"),
        }
    )


def render_procedure(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    start, end = iso(v.get("effective_at")), iso(v.get("performed_end"))
    return clean(
        {
            "resourceType": "Procedure",
            "id": str(v["id"]),
            "status": (v.get("status") or "unknown").replace("_", "-"),
            "code": concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "performedPeriod": {"start": start, "end": end} if start and end else None,
            "performedDateTime": start if start and not end else None,
        }
    )


def render_immunization(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    return clean(
        {
            "resourceType": "Immunization",
            "id": str(v["id"]),
            "status": (v.get("status") or "completed").replace("_", "-"),
            "vaccineCode": concept(v, "vaccine", "vaccine_concept"),
            "patient": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "occurrenceDateTime": iso(v.get("effective_at")),
            "primarySource": v.get("primary_source"),
            "lotNumber": v.get("lot_number"),
        }
    )


def render_medication(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    reported = bool(v.get("is_patient_reported"))
    status = (v.get("status") or "unknown").replace("_", "-")
    return clean(
        {
            "resourceType": "MedicationStatement" if reported else "MedicationRequest",
            "id": str(v["id"]),
            "status": status,
            **({} if reported else {"intent": (v.get("intent") or "order").replace("_", "-")}),
            "medicationCodeableConcept": concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter" if not reported else "context": ref("Encounter", v.get("encounter_id")),
            ("authoredOn" if not reported else "dateAsserted"): iso(v.get("effective_at")),
            "requester": ref("Practitioner", v.get("prescriber_id")) if not reported else None,
            "reasonReference": [
                {"reference": f"Condition/{c}"} for c in v.get("reason_condition_ids") or []
            ],
            "dosageInstruction" if not reported else "dosage": v.get("dosage_instructions"),
        }
    )


Renderer = Callable[[Mapping[str, Any], str, Related], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Exported:
    """One record type read for export: the renderers of its rows (an imported claim's
    invoice gives both its Claim and its ExplanationOfBenefit), the column rows are
    ordered by, and extra WHERE clauses."""

    model: Any
    renders: tuple[Renderer, ...]
    order: str = "effective_at"
    where: tuple[Any, ...] = ()


EXPORTED: tuple[Exported, ...] = (
    Exported(Encounter, (render_encounter,)),
    Exported(Appointment, (render_appointment,)),
    Exported(Condition, (render_condition,)),
    Exported(Observation, (render_observation,)),
    Exported(DiagnosticReport, (render_report,)),
    Exported(Procedure, (render_procedure,)),
    Exported(Immunization, (render_immunization,)),
    Exported(Medication, (render_medication,)),
    Exported(Allergy, (render_allergy,)),
    Exported(ImagingStudy, (render_imaging_study,)),
    Exported(ClinicalNote, (render_note,)),
    Exported(Coverage, (render_coverage,)),
    Exported(Invoice, (render_claim, render_eob)),
    Exported(CarePlan, (render_care_plan,)),
    Exported(Goal, (render_goal,)),
    Exported(Consent, (render_consent,)),
    Exported(Communication, (render_communication,)),
    Exported(FormResponse, (render_questionnaire_response,)),
    # Kept whole by the importer; a superseded version (history) or a resource that
    # failed validation is not part of the record as it stands.
    Exported(
        RawResource,
        (render_raw,),
        order="received_at",
        where=(RawResource.format == "fhir-r4", RawResource.reason != RawReason.INVALID),
    ),
)
"""Every record type ``$everything`` and the bulk export read, in output order."""


VIEWS = {e.model: _view(e.model) for e in (*EXPORTED, Exported(Charge, ()))}


def render_patient(view: Any, parts: PatientParts | None = None) -> dict[str, Any]:
    v = asdict(view)
    given = [g for g in (v.get("given_name"), v.get("middle_name")) if g]
    name = clean(
        {
            "use": "official",
            "family": v.get("family_name"),
            "given": given,
            "prefix": [v["name_prefix"]] if v.get("name_prefix") else None,
        }
    )
    telecom = [
        clean(
            {"system": "email" if p.system == "email" else "phone", "value": p.value, "use": p.use}
        )
        for p in view.contact_points
        if p.value
    ]
    addresses = [
        clean(
            {
                "line": [x for x in (a.line1, a.line2) if x],
                "city": a.city,
                "state": a.state,
                "postalCode": a.postal_code,
                "country": a.country,
            }
        )
        for a in view.addresses
        if a.city or a.line1
    ]
    return clean(
        {
            "resourceType": "Patient",
            "id": str(view.id),
            "name": [name] if len(name) > 1 else None,
            "gender": v.get("sex"),
            "birthDate": iso(v.get("birth_date")),
            "telecom": telecom,
            "address": addresses,
            **render_parts(parts or PatientParts()),
        }
    )


def _label(resource: dict[str, Any]) -> dict[str, Any]:
    resource.setdefault("meta", {}).setdefault("security", []).append(dict(REDACTED))
    return resource


def record_resources(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: list[uuid.UUID],
    log: ReadLog,
    now: datetime,
    since: datetime | None = None,
) -> tuple[dict[uuid.UUID, list[dict[str, Any]]], bool]:
    """Each patient's records (not the Patient itself) as resources, read through the
    access layer in one query per record type; and whether a type was withheld whole.
    ``since`` keeps records recorded or changed from then on."""
    out: dict[uuid.UUID, list[dict[str, Any]]] = {p: [] for p in patient_ids}
    withheld_types = False

    def listed(model: Any, order: str, where: tuple[Any, ...]) -> dict[uuid.UUID, list[Any]] | None:
        clauses = list(where)
        if since is not None:
            clauses.append(or_(model.recorded_at >= since, model.updated_at >= since))
        return list_patient_records(
            session=session,
            principal=principal,
            policy=policy,
            model=model,
            view=VIEWS[model],
            patient_ids=patient_ids,
            order_by=(getattr(model, order), model.id),
            log=log,
            now=now,
            where=clauses,
        )

    related = Related()
    charges = listed(Charge, "claim_item_sequence", ())
    for lines in (charges or {}).values():
        for line in lines:
            values = asdict(line)
            if values.get("invoice_id"):
                related.charges.setdefault(values["invoice_id"], []).append(values)
    for exported in EXPORTED:
        found = listed(exported.model, exported.order, exported.where)
        if found is None:
            withheld_types = True
            continue
        if exported.model is FormResponse:
            related.form_urls = _form_urls(session, found)
        for patient_id, views in found.items():
            reference = f"Patient/{patient_id}"
            for view in views:
                values = asdict(view)
                for render in exported.renders:
                    resource = render(values, reference, related)
                    if resource is None:
                        continue
                    if view.withheld:
                        _label(resource)
                    out[patient_id].append(resource)
    return out, withheld_types


def _form_urls(session: Session, found: dict[uuid.UUID, list[Any]]) -> dict[uuid.UUID, str]:
    """Canonical URLs of the forms the responses answer (reference data, not PHI)."""
    ids = {v.definition_id for views in found.values() for v in views if v.definition_id}
    if not ids:
        return {}
    rows = session.execute(
        select(FormDefinition.id, FormDefinition.url, FormDefinition.form_version).where(
            FormDefinition.id.in_(ids)
        )
    )
    return {rid: f"{url}|{version}" if version else url for rid, url, version in rows if url}


def patient_resource(view: Any, parts: PatientParts | None = None) -> dict[str, Any]:
    """The Patient resource of a patient view and its identifiers and contacts, labelled
    when a field of any of them was withheld."""
    own = render_patient(view, parts)
    names = {f.name for f in view.__dataclass_fields__.values()}
    if [w for w in view.withheld if w.field in names] or (parts is not None and parts.withheld):
        _label(own)
    return own


def everything(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    request_id: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The searchset Bundle of one patient's record; None when absent or out of scope."""
    now = now or utcnow()
    log = ReadLog()
    patient = get_patient(
        session=session, principal=principal, policy=policy, patient_id=patient_id, log=log, now=now
    )
    if patient is None:
        export_events(session, principal, policy, log, request_id, now)
        return None
    found, withheld_types = record_resources(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=[patient.id],
        log=log,
        now=now,
    )
    parts = patient_parts(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=[patient.id],
        log=log,
        now=now,
    )
    resources = [patient_resource(patient, parts[patient.id]), *found[patient.id]]
    export_events(session, principal, policy, log, request_id, now)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    if withheld_types or any("meta" in r and "security" in r["meta"] for r in resources):
        _label(bundle)
    return bundle


def export_events(
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    log: ReadLog,
    request_id: str | None,
    now: datetime,
    client: str = "fhir",
) -> None:
    """The reads as ``export`` events (one per patient), not ``read``: data left the system."""
    for patient_id, entry in sorted(log.entries.items(), key=lambda kv: str(kv[0])):
        audit.record(
            session=session,
            principal=principal,
            action=AuditAction.EXPORT,
            outcome=entry.outcome,
            patient_id=patient_id,
            record_types=entry.record_types,
            fields=entry.fields,
            masked_fields=entry.masked,
            policy_version=policy.version,
            request_id=request_id,
            client=client,
            now=now,
        )
    log.entries.clear()
