"""Categories of the unified record on Patient, role by role, over real HTTP.

Each category is read through the shared access path: one role that reads it, one that
gets null with the category listed in ``withheld`` (and the rule), on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from backend.api.schema import build_schema
from tests.api.conftest import ApiWorld, operation
from tests.api.test_patient_api import gql

PATIENT_360 = operation("Patient360")


def _patient(client: TestClient, world: ApiWorld, role: str) -> dict[str, Any]:
    body = gql(client, PATIENT_360, {"id": str(world.patients["jose"])}, world.tokens[role])
    assert "errors" not in body, body
    patient: dict[str, Any] = body["data"]["patient"]
    return patient


# (category, a role that reads it, what it sees, a role that may not, the rule)
CATEGORIES = [
    ("medications", "physician", ("codeDisplay", ["Sertraline 0"]), "front_desk", "medications"),
    ("allergies", "physician", ("codeDisplay", ["Penicillin 0"]), "front_desk", "allergies"),
    # Vital signs are observations too, but not labs.
    ("labs", "physician", ("codeDisplay", ["Glucose 0"]), "front_desk", "labs"),
    ("encounters", "physician", ("reasonCode", ["F32.1"]), "alumni_coordinator", "encounters"),
    # The physician authored one psychotherapy note; the other is left out for them.
    ("notes", "physician", ("title", ["Note 8", "Note 0"]), "front_desk", "notes"),
    ("assessments", "physician", ("codeDisplay", ["PHQ-9 0"]), "front_desk", "assessments"),
    # Billing data is not clinical: front desk reads coverage, clinicians do not.
    ("coverage", "front_desk", ("status", ["active"]), "physician", "coverage"),
    ("communications", "physician", ("subject", ["Reminder 0"]), "front_desk", "communications"),
    ("consents", "physician", ("purpose", ["Treatment 0"]), "front_desk", "consents"),
    ("carePlans", "physician", ("title", ["Plan 0"]), "front_desk", "care_plans"),
    ("goals", "physician", ("title", ["Goal 0"]), "front_desk", "care_plans"),
    ("tasks", "physician", ("title", ["Task 0"]), "front_desk", "care_plans"),
    # The journey: clinicians read it all, billing none of intake or referrals.
    ("inquiries", "physician", ("reasonDisplay", ["Inquiry 0"]), "billing", "intake"),
    ("admissions", "physician", ("program", ["Program 0"]), "front_desk", "admissions"),
    (
        "discharges",
        "physician",
        ("disposition", ["completed_program"]),
        "alumni_coordinator",
        "admissions",
    ),
    ("referrals", "physician", ("service", ["Referral 0"]), "billing", "referrals"),
    ("imagingStudies", "physician", ("description", ["Imaging 0"]), "care_coordinator", "imaging"),
    ("procedures", "physician", ("codeDisplay", ["Procedure 0"]), "front_desk", "procedures"),
    ("immunizations", "physician", ("vaccineDisplay", ["Vaccine 0"]), "billing", "immunizations"),
    ("diagnosticReports", "physician", ("codeDisplay", ["Report 0"]), "care_coordinator", "labs"),
    (
        "socialFactors",
        "care_coordinator",
        ("codeDisplay", ["Housing 0"]),
        "billing",
        "social_factors",
    ),
    (
        "priorAuthorizations",
        "billing",
        ("serviceDisplay", ["Authorization 0"]),
        "front_desk",
        "authorizations",
    ),
    ("charges", "billing", ("codeDisplay", ["Charge 0"]), "physician", "invoices"),
    ("invoices", "billing", ("currency", ["USD"]), "physician", "invoices"),
    ("payments", "billing", ("method", ["card"]), "care_coordinator", "invoices"),
    ("formResponses", "care_coordinator", ("status", ["in_progress"]), "billing", "forms"),
    ("alumniMemberships", "alumni_coordinator", ("status", ["invited"]), "front_desk", "alumni"),
    ("alumniCheckIns", "alumni_coordinator", ("wellbeingScore", [8]), "billing", "alumni"),
    (
        "alumniEventAttendances",
        "alumni_coordinator",
        ("status", ["registered"]),
        "front_desk",
        "alumni",
    ),
    (
        "surveyInvitations",
        "alumni_coordinator",
        ("surveyKind", ["discharge"]),
        "billing",
        "surveys",
    ),
    ("surveyResponses", "alumni_coordinator", ("nps", [9]), "front_desk", "surveys"),
    ("reviews", "alumni_coordinator", ("title", ["Review 0"]), "physician", "reviews"),
]


@pytest.mark.parametrize(
    ("category", "reader", "seen", "other", "group"),
    CATEGORIES,
    ids=[c[0] for c in CATEGORIES],
)
def test_one_role_reads_the_category_another_gets_null_with_the_rule(
    client: TestClient,
    api_world: ApiWorld,
    category: str,
    reader: str,
    seen: tuple[str, list[str]],
    other: str,
    group: str,
) -> None:
    readable = _patient(client, api_world, reader)
    field, values = seen
    assert [record[field] for record in readable[category]] == values
    assert all(record["withheld"] == [] for record in readable[category])
    assert not any(w["field"] == category for w in readable["withheld"])

    withheld = _patient(client, api_world, other)
    assert withheld[category] is None
    assert {"field": category, "rule": f"field_group:{group}"} in withheld["withheld"]


def test_the_treating_therapist_reads_every_psychotherapy_note(
    client: TestClient, api_world: ApiWorld
) -> None:
    notes = _patient(client, api_world, "therapist")["notes"]
    assert [n["title"] for n in notes] == ["Note 8", "Note 7", "Note 0"]
    assert [n["kind"] for n in notes] == ["psychotherapy", "psychotherapy", "progress"]


def test_front_desk_sees_encounters_without_their_reasons(
    client: TestClient, api_world: ApiWorld
) -> None:
    (encounter,) = _patient(client, api_world, "front_desk")["encounters"]
    assert encounter["periodStart"]
    for name in ("reasonCode", "reasonDisplay", "note"):
        assert encounter[name] is None
        assert {"field": name, "rule": "field_group:visit_reasons"} in encounter["withheld"]


def test_care_plans_carry_their_goals_and_tasks(client: TestClient, api_world: ApiWorld) -> None:
    (plan,) = _patient(client, api_world, "physician")["carePlans"]
    assert [g["title"] for g in plan["goals"]] == ["Goal 0"]
    assert [t["title"] for t in plan["tasks"]] == ["Task 0"]
    assert plan["goals"][0]["carePlanId"] == plan["id"] == plan["tasks"][0]["carePlanId"]


def test_care_coordinators_read_the_journey_without_its_clinical_fields(
    client: TestClient, api_world: ApiWorld
) -> None:
    (inquiry,) = _patient(client, api_world, "care_coordinator")["inquiries"]
    assert inquiry["channel"] == "phone"
    for name in ("reasonText", "reasonDisplay", "presentingConcerns", "notes"):
        assert inquiry[name] is None
        assert {"field": name, "rule": "field_group:journey_clinical"} in inquiry["withheld"]


def test_a_form_response_carries_its_answers_and_its_definition(
    client: TestClient, api_world: ApiWorld
) -> None:
    (response,) = _patient(client, api_world, "physician")["formResponses"]
    assert response["answers"] == {"mood": "low", "sleep_hours": 5}
    assert response["answerList"] == [
        {"question": "mood", "answer": "low"},
        {"question": "sleep_hours", "answer": 5},
    ]
    definition = response["definition"]
    assert (definition["key"], definition["formVersion"]) == (f"intake-{api_world.tag}", 3)
    assert definition["id"] == response["definitionId"]


def test_billing_reads_the_claim_coding_of_charges(client: TestClient, api_world: ApiWorld) -> None:
    (charge,) = _patient(client, api_world, "billing")["charges"]
    assert charge["diagnosisCodes"] == ["F32.1"]
    assert charge["amount"] == "150.00"


def test_survey_invitations_never_expose_their_token() -> None:
    schema = build_schema(production=False).as_str()
    start = schema.index("type SurveyInvitation {")
    assert "token" not in schema[start : schema.index("}", start)].lower()


@pytest.mark.parametrize(
    "role", ["front_desk", "physician", "therapist", "care_coordinator", "billing"]
)
def test_staff_who_read_contact_details_read_emergency_contacts(
    client: TestClient, api_world: ApiWorld, role: str
) -> None:
    (contact,) = _patient(client, api_world, role)["emergencyContacts"]
    assert (contact["name"], contact["relationshipToPatient"]) == ("Contact 0", "sibling")
    assert (contact["phone"], contact["isPrimary"], contact["withheld"]) == (
        "+16175550000",
        True,
        [],
    )


def test_alumni_coordinators_get_no_emergency_contacts_and_no_withheld_category(
    client: TestClient, api_world: ApiWorld
) -> None:
    # They read contact details only on channels the patient allowed for alumni messages;
    # an emergency contact is nobody's channel (backend/access/sensitivity.py).
    patient = _patient(client, api_world, "alumni_coordinator")
    assert patient["emergencyContacts"] == []
    assert not any(w["field"] == "emergencyContacts" for w in patient["withheld"])
