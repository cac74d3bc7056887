"""Stored records back to FHIR R4 resources: the record types beyond the core clinical ones.

Each renderer takes a record's (masked) column values and the patient's reference and
returns one resource; a withheld column is simply absent (``None``), so every renderer
must produce a valid resource from whatever subset it is given. Our enums use
underscores where FHIR codes use hyphens; the tables below map the values that differ
in more than that. :class:`Related` carries what a resource needs from other rows (a
Claim's lines, a response's form URL), read once per batch of patients.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

TERM = "http://terminology.hl7.org/CodeSystem/"


@dataclass(slots=True)
class Related:
    """Rows other than the one being rendered: a Claim's lines by invoice id, a form's
    canonical URL by definition id."""

    charges: dict[uuid.UUID, list[Mapping[str, Any]]] = field(default_factory=dict)
    form_urls: dict[uuid.UUID, str] = field(default_factory=dict)


def iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def coding(v: Mapping[str, Any], prefix: str) -> dict[str, Any] | None:
    code = v.get(f"{prefix}_code")
    if code is None and v.get(f"{prefix}_display") is None:
        return None
    found = {
        "system": v.get(f"{prefix}_system"),
        "code": code,
        "display": v.get(f"{prefix}_display"),
    }
    return {k: x for k, x in found.items() if x is not None}


def concept(v: Mapping[str, Any], prefix: str, full: str | None = None) -> dict[str, Any] | None:
    if full and v.get(full):
        return dict(v[full])
    found = coding(v, prefix)
    if found is None:
        return None
    return {"coding": [found], **({"text": found["display"]} if "display" in found else {})}


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v not in (None, [], {})}


def ref(kind: str, value: Any) -> dict[str, str] | None:
    return {"reference": f"{kind}/{value}"} if value else None


def code(value: Any) -> str | None:
    """Our enum value as a FHIR code (underscores become hyphens)."""
    if value is None:
        return None
    return str(getattr(value, "value", value)).replace("_", "-")


def _status(concept_system: str, value: Any) -> dict[str, Any] | None:
    found = code(value)
    return {"coding": [{"system": TERM + concept_system, "code": found}]} if found else None


def _notes(text: Any) -> list[dict[str, str]] | None:
    return [{"text": text}] if text else None


def _period(start: Any, end: Any) -> dict[str, Any] | None:
    return clean({"start": iso(start), "end": iso(end)}) or None


APPOINTMENT_STATUS = {"completed": "fulfilled", "no_show": "noshow"}


def render_appointment(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    participants = [{"actor": {"reference": patient}, "status": "accepted"}]
    if v.get("provider_id"):
        participants.append(
            {"actor": {"reference": f"Practitioner/{v['provider_id']}"}, "status": "accepted"}
        )
    status = v.get("status")
    return clean(
        {
            "resourceType": "Appointment",
            "id": str(v["id"]),
            "status": APPOINTMENT_STATUS.get(code(status) or "", code(status)) or "booked",
            "appointmentType": {"coding": [{"system": TERM + "v2-0276", "code": "VR"}]}
            if code(v.get("appointment_type")) == "video"
            else None,
            "serviceType": [{"text": code(v["service_type"])}] if v.get("service_type") else None,
            "specialty": [concept(v, "specialty")] if coding(v, "specialty") else None,
            "reasonCode": [concept(v, "reason")] if coding(v, "reason") else None,
            "description": v.get("reason_text"),
            "start": iso(v.get("start_at")),
            "end": iso(v.get("end_at")),
            "minutesDuration": v.get("minutes"),
            "created": iso(v.get("requested_at")),
            "comment": v.get("comment"),
            "patientInstruction": v.get("patient_instruction"),
            "cancelationReason": {"text": v["cancel_reason"]} if v.get("cancel_reason") else None,
            "participant": participants,
        }
    )


def render_allergy(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    reactions = v.get("reactions")
    if not reactions and (coding(v, "manifestation") or v.get("reaction_manifestation")):
        manifestation = concept(v, "manifestation") or {"text": v["reaction_manifestation"]}
        reactions = [
            clean({"manifestation": [manifestation], "severity": code(v.get("reaction_severity"))})
        ]
    return clean(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(v["id"]),
            "clinicalStatus": _status("allergyintolerance-clinical", v.get("clinical_status")),
            "verificationStatus": _status(
                "allergyintolerance-verification", v.get("verification_status")
            ),
            "type": code(v.get("allergy_type")),
            "category": [code(v["category"])] if v.get("category") else None,
            "criticality": code(v.get("criticality")),
            "code": concept(v, "code", "code_concept"),
            "patient": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "recordedDate": iso(v.get("effective_at")),
            "onsetDateTime": iso(v.get("onset_date")),
            "lastOccurrence": iso(v.get("last_occurrence_date")),
            "reaction": reactions,
            "note": _notes(v.get("note")),
        }
    )


def render_imaging_study(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    modality = coding(v, "modality")
    return clean(
        {
            "resourceType": "ImagingStudy",
            "id": str(v["id"]),
            "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{v['study_uid']}"}]
            if v.get("study_uid")
            else None,
            "status": code(v.get("status")) or "unknown",
            "modality": [modality] if modality else None,
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "started": iso(v.get("started_at") or v.get("effective_at")),
            "referrer": ref("Practitioner", v.get("referrer_id")),
            "numberOfSeries": v.get("number_of_series"),
            "numberOfInstances": v.get("number_of_instances"),
            "procedureCode": [concept(v, "procedure")] if coding(v, "procedure") else None,
            "description": v.get("description"),
            "series": v.get("series"),
            "note": _notes(v.get("note")),
        }
    )


DOC_STATUS = {"draft": "preliminary", "signed": "final", "amended": "amended"}


def render_note(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    status = code(v.get("status"))
    body = v.get("body")
    attachment = clean(
        {
            "contentType": v.get("content_type") or "text/plain",
            "data": base64.b64encode(body.encode()).decode() if isinstance(body, str) else None,
            "title": v.get("title"),
        }
    )
    context = clean(
        {
            "encounter": [ref("Encounter", v["encounter_id"])] if v.get("encounter_id") else None,
            "period": _period(v.get("period_start"), v.get("period_end")),
        }
    )
    return clean(
        {
            "resourceType": "DocumentReference",
            "id": str(v["id"]),
            "status": "entered-in-error" if status == "entered-in-error" else "current",
            "docStatus": DOC_STATUS.get(status or ""),
            "type": concept(v, "doc_type"),
            "subject": {"reference": patient},
            "date": iso(v.get("effective_at")),
            "author": [ref("Practitioner", v["author_id"])] if v.get("author_id") else None,
            "content": [{"attachment": attachment}],
            "context": context,
        }
    )


def render_coverage(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    relationship = code(v.get("subscriber_relationship"))
    order = {"primary": 1, "secondary": 2, "tertiary": 3}.get(code(v.get("coverage_order")) or "")
    return clean(
        {
            "resourceType": "Coverage",
            "id": str(v["id"]),
            "status": code(v.get("status")) or "active",
            "type": v.get("type_concept") or ({"text": code(v["kind"])} if v.get("kind") else None),
            "subscriberId": v.get("member_id"),
            "beneficiary": {"reference": patient},
            "relationship": {
                "coding": [{"system": TERM + "subscriber-relationship", "code": relationship}]
            }
            if relationship
            else None,
            "period": _period(v.get("period_start"), v.get("period_end")),
            # A payer withheld from the caller still needs a payor: name none.
            "payor": [ref("Organization", v.get("payer_id")) or {"display": "withheld"}],
            "order": order,
        }
    )


def _money(value: Any, currency: str) -> dict[str, Any] | None:
    return {"value": float(value), "currency": currency} if value is not None else None


def render_claim(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    """An imported claim's stored header (``claim_detail``) with its lines rebuilt from
    the invoice's charges; an invoice made here gets the minimum a Claim needs."""
    detail = dict(v.get("claim_detail") or {})
    currency = v.get("currency") or "USD"
    items = []
    for n, line in enumerate(related.charges.get(v["id"], []), start=1):
        items.append(
            clean(
                {
                    **(line.get("item_detail") or {}),
                    "sequence": line.get("claim_item_sequence") or n,
                    "productOrService": concept(line, "code", "code_concept")
                    or {"text": "withheld"},
                    "servicedDate": iso(line.get("service_date"))
                    if not (line.get("item_detail") or {}).get("servicedPeriod")
                    else None,
                    "quantity": {"value": line["units"]} if line.get("units") else None,
                    "unitPrice": _money(line.get("unit_price"), currency),
                    "net": _money(line.get("amount"), currency),
                    "encounter": [ref("Encounter", line["encounter_id"])]
                    if line.get("encounter_id")
                    else None,
                }
            )
        )
    status = "cancelled" if code(v.get("status")) == "cancelled" else "active"
    created = detail.get("created") or iso(v.get("effective_at")) or iso(v.get("issued_on"))
    return clean(
        {
            "resourceType": "Claim",
            "id": str(v["id"]),
            "status": status,
            "type": detail.get("type")
            or {"coding": [{"system": TERM + "claim-type", "code": "professional"}]},
            "use": detail.get("use") or "claim",
            "patient": {"reference": patient},
            "billablePeriod": detail.get("billablePeriod")
            or _period(v.get("period_start"), v.get("period_end")),
            "created": created,
            "provider": {"display": "patient360"},
            "priority": detail.get("priority") or {"coding": [{"code": "normal"}]},
            "insurance": detail.get("insurance")
            or [
                {
                    "sequence": 1,
                    "focal": True,
                    "coverage": ref("Coverage", v.get("coverage_id")) or {"display": "none"},
                }
            ],
            "diagnosis": detail.get("diagnosis"),
            "procedure": detail.get("procedure"),
            "supportingInfo": detail.get("supportingInfo"),
            "prescription": detail.get("prescription"),
            "item": items,
            "total": _money(v.get("total"), currency),
        }
    )


def render_eob(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any] | None:
    """The ExplanationOfBenefit kept on an imported claim's invoice (``eob_detail``),
    pointed at that Claim and patient, its lines' adjudication from the charges."""
    header = v.get("eob_detail")
    if not header:
        return None
    items = [
        {
            "sequence": line.get("claim_item_sequence") or n,
            "productOrService": concept(line, "code", "code_concept") or {"text": "withheld"},
            "adjudication": line["adjudication"],
        }
        for n, line in enumerate(related.charges.get(v["id"], []), start=1)
        if line.get("adjudication")
    ]
    if v.get("coverage_id"):
        # The coverage an EOB carried inline is a Coverage record now: point at it, so a
        # re-import does not make it twice.
        header = {
            **header,
            "contained": [
                c for c in header.get("contained", []) if c.get("resourceType") != "Coverage"
            ],
            "insurance": [{"focal": True, "coverage": ref("Coverage", v["coverage_id"])}],
        }
    return clean(
        {
            **header,
            "resourceType": "ExplanationOfBenefit",
            "id": f"{v['id']}-eob",
            "patient": {"reference": patient},
            "claim": {"reference": f"Claim/{v['id']}"},
            "item": items,
        }
    )


def render_care_plan(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    categories = v.get("category_concepts") or (
        [concept(v, "category")] if coding(v, "category") else None
    )
    return clean(
        {
            "resourceType": "CarePlan",
            "id": str(v["id"]),
            "status": code(v.get("status")) or "unknown",
            "intent": code(v.get("intent")) or "plan",
            "category": categories,
            "title": v.get("title"),
            "description": v.get("description"),
            "subject": {"reference": patient},
            "period": _period(v.get("period_start"), v.get("period_end")),
            "created": iso(v.get("effective_at")) if not v.get("period_start") else None,
            "addresses": [{"reference": f"Condition/{c}"} for c in v["addressed_condition_ids"]]
            if v.get("addressed_condition_ids")
            else None,
            "activity": v.get("activities"),
            "note": _notes(v.get("note")),
        }
    )


def render_goal(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    target = clean(
        {
            "measure": concept(v, "measure"),
            "dueDate": iso(v.get("target_date")),
        }
    )
    achievement = code(v.get("achievement_status"))
    priority = code(v.get("priority"))
    return clean(
        {
            "resourceType": "Goal",
            "id": str(v["id"]),
            "lifecycleStatus": code(v.get("lifecycle_status")) or "active",
            "achievementStatus": {
                "coding": [{"system": TERM + "goal-achievement", "code": achievement}]
            }
            if achievement
            else None,
            "priority": {"coding": [{"system": TERM + "goal-priority", "code": priority}]}
            if priority
            else None,
            "description": {"text": v.get("title") or "withheld"},
            "subject": {"reference": patient},
            "startDate": iso(v.get("start_date")),
            "target": [target] if target else None,
            "statusReason": v.get("status_reason"),
            "note": _notes(v.get("note")),
        }
    )


CONSENT_STATUS = {"revoked": "inactive"}
CONSENT_SCOPE = {"research": "research", "release_of_information": "patient-privacy"}


def render_consent(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    status = code(v.get("status")) or "active"
    kind = code(v.get("kind"))
    scope = CONSENT_SCOPE.get(str(getattr(v.get("kind"), "value", v.get("kind"))), "treatment")
    provision = clean(
        {
            "type": v.get("provision_type"),
            "period": _period(v.get("period_start"), v.get("period_end")),
            "purpose": [coding(v, "purpose_of_use")] if coding(v, "purpose_of_use") else None,
        }
    )
    return clean(
        {
            "resourceType": "Consent",
            "id": str(v["id"]),
            "status": CONSENT_STATUS.get(status.replace("-", "_"), status),
            "scope": {
                "coding": [{"system": TERM + "consentscope", "code": scope}],
                **({"text": kind} if kind else {}),
            },
            "category": v.get("data_categories") or [{"text": kind or "consent"}],
            "patient": {"reference": patient},
            "dateTime": iso(v.get("granted_at") or v.get("effective_at")),
            "policyRule": {"text": v["policy_rule"]} if v.get("policy_rule") else None,
            "provision": provision,
        }
    )


COMMUNICATION_STATUS = {
    "queued": "preparation",
    "sent": "in-progress",
    "delivered": "completed",
    "read": "completed",
    "replied": "completed",
    "received": "completed",
    "failed": "not-done",
    "bounced": "not-done",
}
MEDIUM = {"letter": "WRITTEN", "email": "EMAILWRIT", "video": "VIDEOCONF", "phone": "PHONE"}
MEDIUM |= {"sms": "SMSWRIT", "in_person": "FACE"}


def render_communication(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any]:
    channel = str(getattr(v.get("channel"), "value", v.get("channel")))
    inbound = code(v.get("direction")) == "inbound"
    status = str(getattr(v.get("status"), "value", v.get("status")))
    payload: list[dict[str, Any]] = []
    if v.get("body"):
        payload.append({"contentString": v["body"]})
    payload += [{"contentAttachment": a} for a in v.get("attachments") or []]
    return clean(
        {
            "resourceType": "Communication",
            "id": str(v["id"]),
            "status": COMMUNICATION_STATUS.get(status, "unknown"),
            "medium": [
                {"coding": [{"system": TERM + "v3-ParticipationMode", "code": MEDIUM[channel]}]}
            ]
            if channel in MEDIUM
            else None,
            "subject": {"reference": patient},
            "topic": {"text": v["subject"]} if v.get("subject") else None,
            "sent": iso(v.get("sent_at")),
            "received": iso(v.get("delivered_at")),
            "sender": {"reference": patient} if inbound else ref("Practitioner", v.get("staff_id")),
            "recipient": None if inbound else [{"reference": patient}],
            "payload": payload,
        }
    )


def _answer(value: Any) -> dict[str, Any]:
    """A stored answer value as a QuestionnaireResponse answer[x] (by its JSON shape)."""
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float):
        return {"valueDecimal": value}
    if isinstance(value, dict) and "code" in value:
        return {"valueCoding": value}
    if isinstance(value, dict) and "value" in value:
        return {"valueQuantity": value}
    if isinstance(value, dict):
        return {"valueString": str(value)}
    return {"valueString": str(value)}


def render_questionnaire_response(
    v: Mapping[str, Any], patient: str, related: Related
) -> dict[str, Any]:
    answers = v.get("answers") or {}
    items = []
    for link_id, value in answers.items():
        values = value if isinstance(value, list) else [value]
        items.append({"linkId": link_id, "answer": [_answer(x) for x in values]})
    return clean(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(v["id"]),
            "questionnaire": related.form_urls.get(v.get("definition_id")),  # type: ignore[arg-type]
            "status": code(v.get("status")) or "completed",
            "subject": {"reference": patient},
            "encounter": ref("Encounter", v.get("encounter_id")),
            "authored": iso(v.get("completed_at") or v.get("effective_at")),
            "item": items,
        }
    )


def render_raw(v: Mapping[str, Any], patient: str, related: Related) -> dict[str, Any] | None:
    """A FHIR resource kept whole by the importer (its type has no model here), as sent."""
    body = v.get("body")
    if v.get("format") != "fhir-r4" or not isinstance(body, dict):
        return None
    resource = dict(body)
    if not resource.get("id") and v.get("source_id"):
        resource["id"] = str(v["source_id"]).rsplit("/", 1)[-1]
    for name in ("subject", "patient", "beneficiary"):  # point at the patient as exported
        if isinstance(resource.get(name), dict) and resource[name].get("reference"):
            resource[name] = {"reference": patient}
    return resource
