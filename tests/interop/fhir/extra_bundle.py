"""A collection Bundle with one resource of every mapped type the Synthea samples lack."""

from __future__ import annotations

import base64
from typing import Any

PATIENT = "urn:uuid:6f1c2c1e-0000-4000-8000-000000000001"
SUBJECT = {"reference": PATIENT}
NOTE = "Seen for follow-up; doing well."
MRN = "MRN-0042"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def extra_bundle() -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": PATIENT.removeprefix("urn:uuid:"),
            "name": [{"family": "Okafor", "given": ["Ada"]}],
            "gender": "female",
            "birthDate": "1980-02-03",
            "identifier": [
                {
                    "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
                    "system": "urn:oid:1.2.3.4.5",
                    "value": MRN,
                }
            ],
            # Synthea patients carry no contacts: this one has a sister to call.
            "contact": [
                {
                    "relationship": [
                        {"coding": [{"system": V3_ROLE, "code": "SIS", "display": "sister"}]}
                    ],
                    "name": {"family": "Okafor", "given": ["Ngozi"]},
                    "telecom": [
                        {"system": "phone", "value": "+16175550123"},
                        {"system": "email", "value": "ngozi@example.org"},
                    ],
                }
            ],
        },
        {
            "resourceType": "Appointment",
            "id": "a0000000-0000-4000-8000-000000000002",
            "status": "booked",
            "start": "2024-03-01T09:00:00+00:00",
            "end": "2024-03-01T09:30:00+00:00",
            "participant": [{"actor": SUBJECT, "status": "accepted"}],
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "a0000000-0000-4000-8000-000000000003",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": "confirmed"}]},
            "type": "allergy",
            "category": ["food"],
            "criticality": "low",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91935009"}]},
            "patient": SUBJECT,
            "recordedDate": "2020-01-01T00:00:00+00:00",
        },
        {
            "resourceType": "MedicationStatement",
            "id": "a0000000-0000-4000-8000-000000000004",
            "status": "active",
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "1"}]
            },
            "subject": SUBJECT,
            "dateAsserted": "2024-01-02T00:00:00+00:00",
        },
        {
            "resourceType": "ImagingStudy",
            "id": "a0000000-0000-4000-8000-000000000005",
            "status": "available",
            "subject": SUBJECT,
            "started": "2024-02-01T10:00:00+00:00",
            "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "DX"}],
            "numberOfSeries": 1,
            "numberOfInstances": 1,
        },
        {
            "resourceType": "Coverage",
            "id": "a0000000-0000-4000-8000-000000000006",
            "status": "active",
            "beneficiary": SUBJECT,
            "payor": [{"display": "Acme Health"}],
            "subscriberId": "M123",
            "period": {"start": "2024-01-01"},
        },
        {
            "resourceType": "CarePlan",
            "id": "a0000000-0000-4000-8000-000000000007",
            "status": "active",
            "intent": "plan",
            "title": "Recovery plan",
            "subject": SUBJECT,
            "period": {"start": "2024-01-01"},
        },
        {
            "resourceType": "Goal",
            "id": "a0000000-0000-4000-8000-000000000008",
            "lifecycleStatus": "active",
            "description": {"text": "Walk daily"},
            "subject": SUBJECT,
            "startDate": "2024-01-05",
        },
        {
            "resourceType": "Consent",
            "id": "a0000000-0000-4000-8000-000000000009",
            "status": "active",
            "scope": {"coding": [{"code": "treatment"}]},
            "category": [{"coding": [{"code": "59284-0", "system": "http://loinc.org"}]}],
            "patient": SUBJECT,
            "dateTime": "2024-01-01T00:00:00+00:00",
        },
        {
            "resourceType": "Communication",
            "id": "a0000000-0000-4000-8000-000000000010",
            "status": "completed",
            "subject": SUBJECT,
            "sent": "2024-01-03T12:00:00+00:00",
            "payload": [{"contentString": "Reminder of your visit"}],
        },
        {
            "resourceType": "DocumentReference",
            "id": "a0000000-0000-4000-8000-000000000011",
            "status": "current",
            "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
            "subject": SUBJECT,
            "date": "2024-01-04T12:00:00+00:00",
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(NOTE.encode()).decode(),
                    }
                }
            ],
        },
        {
            "resourceType": "CareTeam",
            "id": "a0000000-0000-4000-8000-000000000012",
            "status": "active",
            "subject": SUBJECT,
        },
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": [_entry(r) for r in resources]}
