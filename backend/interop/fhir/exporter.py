"""``Patient/$everything``: a patient's record as FHIR R4, seen through the caller's access.

Every record type is read with :func:`backend.access.listing.list_patient_records` (row
scope, Part 2 and psychotherapy rules, field masks: the same path as the GraphQL API);
the patient with :func:`backend.patients.service.get_patient`. A withheld field is left
out of the resource and the resource is labelled REDACTED in ``meta.security``; a type
the caller may not read at all is left out and the Bundle is labelled instead. Reads are
audited as one ``export`` event per patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, field, make_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.listing import list_patient_records
from backend.access.masking import Withheld
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.clinical.models import Condition, Immunization, Medication, Observation, Procedure
from backend.clinical.results import DiagnosticReport
from backend.common.mixins import utcnow
from backend.patients.service import get_patient
from backend.scheduling.models import Encounter

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


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _coding(v: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    code = v.get(f"{prefix}_code")
    if code is None and v.get(f"{prefix}_display") is None:
        return None
    coding = {
        "system": v.get(f"{prefix}_system"),
        "code": code,
        "display": v.get(f"{prefix}_display"),
    }
    return {k: x for k, x in coding.items() if x is not None}


def _concept(v: Mapping[str, Any], prefix: str, full: str | None = None) -> dict[str, Any] | None:
    if full and v.get(full):
        return dict(v[full])
    coding = _coding(v, prefix)
    if coding is None:
        return None
    return {"coding": [coding], **({"text": coding["display"]} if "display" in coding else {})}


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v not in (None, [], {})}


Renderer = Callable[[Mapping[str, Any], str], dict[str, Any]]


def _ref(kind: str, value: Any) -> dict[str, str] | None:
    return {"reference": f"{kind}/{value}"} if value else None


def render_encounter(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    status = (v.get("status") or "unknown").replace("_", "-")
    return _clean(
        {
            "resourceType": "Encounter",
            "id": str(v["id"]),
            "status": status,
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": v.get("class_code") or "AMB",
            },
            "type": v.get("type_concepts")
            or ([_concept(v, "type")] if _coding(v, "type") else None),
            "reasonCode": v.get("reason_concepts")
            or ([_concept(v, "reason")] if _coding(v, "reason") else None),
            "subject": {"reference": patient},
            "period": _clean(
                {"start": _iso(v.get("period_start")), "end": _iso(v.get("period_end"))}
            ),
            "participant": [{"individual": _ref("Practitioner", v["provider_id"])}]
            if v.get("provider_id")
            else None,
            "serviceProvider": _ref("Organization", v.get("service_provider_id")),
        }
    )


def render_condition(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    term = "http://terminology.hl7.org/CodeSystem/"
    return _clean(
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
            "code": _concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": _ref("Encounter", v.get("encounter_id")),
            "onsetDateTime": _iso(v.get("onset_at")),
            "abatementDateTime": _iso(v.get("abatement_at")),
            "recordedDate": _iso(v.get("effective_at")),
        }
    )


def render_observation(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    value: dict[str, Any] = {}
    if v.get("value_quantity") is not None:
        number = float(v["value_precise"]) if v.get("value_precise") else _iso(v["value_quantity"])
        unit = v.get("value_unit")
        value["valueQuantity"] = _clean(
            {
                "value": number,
                "unit": unit,
                "code": unit,
                "system": "http://unitsofmeasure.org" if unit else None,
            }
        )
    elif _coding(v, "value_code"):
        value["valueCodeableConcept"] = _concept(v, "value_code", "value_concept")
    elif v.get("value_text") is not None:
        value["valueString"] = v["value_text"]
    elif v.get("value_other"):
        value["value" + v["value_other"]["type"]] = v["value_other"]["value"]
    components = []
    for c in v.get("components") or []:
        comp: dict[str, Any] = {
            "code": {
                "coding": [
                    _clean(
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
            comp["valueQuantity"] = _clean(
                {
                    "value": c["value"],
                    "unit": c.get("unit_display") or c.get("unit"),
                    "code": c.get("unit"),
                    "system": "http://unitsofmeasure.org",
                }
            )
        components.append(comp)
    category = (v.get("category") or "exam").replace("_", "-")
    return _clean(
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
            "code": _concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": _ref("Encounter", v.get("encounter_id")),
            "effectiveDateTime": _iso(v.get("effective_at")),
            "issued": _iso(v.get("issued_at")),
            "component": components,
            **value,
        }
    )


def render_report(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "DiagnosticReport",
            "id": str(v["id"]),
            "status": (v.get("status") or "unknown").replace("_", "-"),
            "code": _concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": _ref("Encounter", v.get("encounter_id")),
            "effectiveDateTime": _iso(v.get("effective_at")),
            "issued": _iso(v.get("issued_at")),
            "conclusion": v.get("conclusion"),
            "presentedForm": v.get("presented_form"),
        }
    )


def render_procedure(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    start, end = _iso(v.get("effective_at")), _iso(v.get("performed_end"))
    return _clean(
        {
            "resourceType": "Procedure",
            "id": str(v["id"]),
            "status": (v.get("status") or "unknown").replace("_", "-"),
            "code": _concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter": _ref("Encounter", v.get("encounter_id")),
            "performedPeriod": {"start": start, "end": end} if start and end else None,
            "performedDateTime": start if start and not end else None,
        }
    )


def render_immunization(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    return _clean(
        {
            "resourceType": "Immunization",
            "id": str(v["id"]),
            "status": (v.get("status") or "completed").replace("_", "-"),
            "vaccineCode": _concept(v, "vaccine", "vaccine_concept"),
            "patient": {"reference": patient},
            "encounter": _ref("Encounter", v.get("encounter_id")),
            "occurrenceDateTime": _iso(v.get("effective_at")),
            "primarySource": v.get("primary_source"),
            "lotNumber": v.get("lot_number"),
        }
    )


def render_medication(v: Mapping[str, Any], patient: str) -> dict[str, Any]:
    reported = bool(v.get("is_patient_reported"))
    status = (v.get("status") or "unknown").replace("_", "-")
    return _clean(
        {
            "resourceType": "MedicationStatement" if reported else "MedicationRequest",
            "id": str(v["id"]),
            "status": status,
            **({} if reported else {"intent": (v.get("intent") or "order").replace("_", "-")}),
            "medicationCodeableConcept": _concept(v, "code", "code_concept"),
            "subject": {"reference": patient},
            "encounter" if not reported else "context": _ref("Encounter", v.get("encounter_id")),
            ("authoredOn" if not reported else "dateAsserted"): _iso(v.get("effective_at")),
            "requester": _ref("Practitioner", v.get("prescriber_id")) if not reported else None,
            "reasonReference": [
                {"reference": f"Condition/{c}"} for c in v.get("reason_condition_ids") or []
            ],
            "dosageInstruction" if not reported else "dosage": v.get("dosage_instructions"),
        }
    )


EXPORTED: tuple[tuple[Any, Renderer], ...] = (
    (Encounter, render_encounter),
    (Condition, render_condition),
    (Observation, render_observation),
    (DiagnosticReport, render_report),
    (Procedure, render_procedure),
    (Immunization, render_immunization),
    (Medication, render_medication),
)
VIEWS = {model: _view(model) for model, _ in EXPORTED}


def render_patient(view: Any) -> dict[str, Any]:
    v = asdict(view)
    given = [g for g in (v.get("given_name"), v.get("middle_name")) if g]
    name = _clean(
        {
            "use": "official",
            "family": v.get("family_name"),
            "given": given,
            "prefix": [v["name_prefix"]] if v.get("name_prefix") else None,
        }
    )
    telecom = [
        _clean(
            {"system": "email" if p.system == "email" else "phone", "value": p.value, "use": p.use}
        )
        for p in view.contact_points
        if p.value
    ]
    addresses = [
        _clean(
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
    return _clean(
        {
            "resourceType": "Patient",
            "id": str(view.id),
            "name": [name] if len(name) > 1 else None,
            "gender": v.get("sex"),
            "birthDate": _iso(v.get("birth_date")),
            "telecom": telecom,
            "address": addresses,
        }
    )


def _label(resource: dict[str, Any]) -> dict[str, Any]:
    resource.setdefault("meta", {}).setdefault("security", []).append(dict(REDACTED))
    return resource


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
        _export_events(session, principal, policy, log, request_id, now)
        return None
    reference = f"Patient/{patient_id}"
    own = render_patient(patient)
    if [
        w
        for w in patient.withheld
        if w.field in {f.name for f in patient.__dataclass_fields__.values()}
    ]:
        _label(own)
    resources = [own]
    withheld_types = False
    for model, render in EXPORTED:
        found = list_patient_records(
            session=session,
            principal=principal,
            policy=policy,
            model=model,
            view=VIEWS[model],
            patient_ids=[patient_id],
            order_by=(model.effective_at, model.id),
            log=log,
            now=now,
        )
        if found is None:
            withheld_types = True
            continue
        for view in found.get(patient_id, []):
            resource = render(asdict(view), reference)
            if view.withheld:
                _label(resource)
            resources.append(resource)
    _export_events(session, principal, policy, log, request_id, now)
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
    if withheld_types or any("meta" in r for r in resources):
        _label(bundle)
    return bundle


def _export_events(
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    log: ReadLog,
    request_id: str | None,
    now: datetime,
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
            client="fhir",
            now=now,
        )
    log.entries.clear()
