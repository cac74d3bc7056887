"""Categories of the unified record on Patient, role by role, over real HTTP.

Each category is read through the shared access path: one role that reads it, one that
gets null with the category listed in ``withheld`` (and the rule), on both databases.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

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
