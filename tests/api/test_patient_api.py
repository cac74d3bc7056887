"""The staff GraphQL API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from starlette.routing import Route
from starlette.testclient import TestClient

from backend.access.models import AuditEvent
from backend.api.schema import graphql_app
from backend.app import create_app
from backend.db import transaction
from tests.api.conftest import ApiWorld, operation, settings_for

PATIENT_360 = operation("Patient360")
# Every category Patient360 asks for; each has `expected` records for few and many
# (care plans also nest one goal and one task each).
CATEGORIES = (
    "conditions",
    "appointments",
    "medications",
    "allergies",
    "labs",
    "encounters",
    "notes",
    "assessments",
    "coverage",
    "communications",
    "consents",
    "carePlans",
    "goals",
    "tasks",
    "inquiries",
    "admissions",
    "discharges",
    "referrals",
    "imagingStudies",
    "procedures",
    "immunizations",
    "diagnosticReports",
    "socialFactors",
    "priorAuthorizations",
    "charges",
    "invoices",
    "payments",
    "formResponses",
    "alumniMemberships",
    "alumniCheckIns",
    "alumniEventAttendances",
    "surveyInvitations",
    "surveyResponses",
    "reviews",
)
SEARCH = operation("SearchPatients")


def gql(
    client: TestClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def test_physician_sees_conditions_but_not_the_part2_record(
    client: TestClient, api_world: ApiWorld
) -> None:
    body = gql(
        client, PATIENT_360, {"id": str(api_world.patients["jose"])}, api_world.tokens["physician"]
    )
    assert "errors" not in body, body
    patient = body["data"]["patient"]
    assert patient["givenName"] == "José"
    # Billing data is not clinical, and reviews are the alumni team's: withheld.
    assert patient["withheld"] == [
        {"field": "coverage", "rule": "field_group:coverage"},
        {"field": "charges", "rule": "field_group:invoices"},
        {"field": "invoices", "rule": "field_group:invoices"},
        {"field": "payments", "rule": "field_group:invoices"},
        {"field": "reviews", "rule": "field_group:reviews"},
    ]
    # Two ordinary conditions; the Part 2 one has no consent covering the caller.
    assert [c["codeDisplay"] for c in patient["conditions"]] == ["Dx 2", "Dx 1"]
    assert all(c["withheld"] == [] for c in patient["conditions"])
    assert len(patient["appointments"]) == 2
    assert patient["appointments"][0]["reasonCode"] == "F32.1"
    assert patient["contactPoints"][0]["value"] == api_world.phone


def test_front_desk_sees_demographics_and_appointments_but_no_diagnoses(
    client: TestClient, api_world: ApiWorld
) -> None:
    body = gql(
        client, PATIENT_360, {"id": str(api_world.patients["jose"])}, api_world.tokens["front_desk"]
    )
    assert "errors" not in body, body
    patient = body["data"]["patient"]
    assert patient["familyName"].startswith("Álvarez")
    assert patient["conditions"] is None
    assert {"field": "conditions", "rule": "field_group:diagnoses"} in patient["withheld"]
    appointments = patient["appointments"]
    assert len(appointments) == 2
    for appointment in appointments:
        assert appointment["startAt"]
        assert appointment["serviceType"] == "psychiatry"
        for name in ("reasonText", "reasonCode", "reasonDisplay"):
            assert appointment[name] is None
            assert {"field": name, "rule": "field_group:visit_reasons"} in appointment["withheld"]


def test_out_of_scope_and_unknown_patients_answer_identically(
    client: TestClient, api_world: ApiWorld
) -> None:
    token = api_world.tokens["physician"]
    other = gql(client, PATIENT_360, {"id": str(api_world.patients["other"])}, token)
    unknown = gql(client, PATIENT_360, {"id": str(uuid.uuid4())}, token)
    assert other["data"] == unknown["data"] == {"patient": None}
    assert other["errors"] == unknown["errors"]
    assert codes(other) == ["NOT_FOUND"]
    # admin has no patient rows at all: the same answer again.
    admin = gql(
        client, PATIENT_360, {"id": str(api_world.patients["jose"])}, api_world.tokens["admin"]
    )
    assert admin["errors"] == other["errors"]


@pytest.mark.parametrize(
    "query",
    [
        "{ me { username } }",
        "query($id: ID!) { patient(id: $id) { id } }",
        "{ patients { edges { cursor } } }",
    ],
)
def test_no_credentials_is_unauthenticated(client: TestClient, query: str) -> None:
    body = gql(client, query, {"id": str(uuid.uuid4())})
    assert codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "mutation",
    [
        'mutation { createTask(input: {patientId: "not-an-id", title: "t"}) { id } }',
        'mutation { updateTask(id: "not-an-id", version: 1, input: {title: "t"}) { id } }',
        'mutation { breakGlass(patientId: "not-an-id", reason: "r") { grantId } }',
        'mutation { rsvpAlumniEvent(eventId: "not-an-id", attend: true) { id } }',
    ],
)
def test_a_change_without_credentials_is_unauthenticated_whatever_its_input(
    client: TestClient, mutation: str
) -> None:
    """Resolvers take the caller before they parse input (ctx.change needs it): a bad
    id from an anonymous caller is UNAUTHENTICATED, not BAD_USER_INPUT."""
    assert codes(gql(client, mutation)) == ["UNAUTHENTICATED"]


def test_a_bad_token_is_unauthenticated_too(client: TestClient) -> None:
    assert codes(gql(client, "{ me { username } }", token="not-a-token")) == ["UNAUTHENTICATED"]


def test_me_names_the_caller_and_the_policy(client: TestClient, api_world: ApiWorld) -> None:
    me = gql(
        client, "{ me { username roles policyVersion } }", token=api_world.tokens["front_desk"]
    )
    assert me["data"]["me"]["username"] == f"front_desk-{api_world.tag}"
    assert me["data"]["me"]["roles"] == ["front_desk"]
    assert len(me["data"]["me"]["policyVersion"]) == 64


def names(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [e["node"]["givenName"] for e in body["data"]["patients"]["edges"]]


@pytest.mark.parametrize(
    "search",
    ["jose alvarez", "JOSÉ", "álvarez", "ALVAREZ", "pepe"],
)
def test_search_by_name_ignores_case_and_accents(
    client: TestClient, api_world: ApiWorld, search: str
) -> None:
    text = search if "alvarez" not in search.lower() else search + api_world.tag
    body = gql(client, SEARCH, {"search": text}, api_world.tokens["physician"])
    assert "José" in names(body)


def test_search_by_phone_identifier_and_birth_date(client: TestClient, api_world: ApiWorld) -> None:
    token = api_world.tokens["physician"]
    local = api_world.phone[2:]  # without +1
    typed = f"({local[:3]}) {local[3:6]}-{local[6:]}"
    assert names(gql(client, SEARCH, {"search": typed}, token)) == ["José"]
    assert names(gql(client, SEARCH, {"search": api_world.mrn}, token)) == ["José"]
    born = names(gql(client, SEARCH, {"search": "1980-05-17", "first": 100}, token))
    assert {"José", "Fay", "Manny"} <= set(born)
    assert "Otto" not in born  # another team's patient never shows up


def test_search_pages_with_cursors(client: TestClient, api_world: ApiWorld) -> None:
    token = api_world.tokens["physician"]
    seen: list[str] = []
    after = None
    for _ in range(10):
        body = gql(client, SEARCH, {"search": api_world.tag, "first": 1, "after": after}, token)
        seen += names(body)
        info = body["data"]["patients"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert sorted(seen) == ["Fay", "José", "Manny"]


@pytest.mark.parametrize("variables", [{"first": 101}, {"first": 0}, {"after": "bm90LWEtY3Vyc29y"}])
def test_page_size_over_the_cap_and_bad_cursors_are_bad_user_input(
    client: TestClient, api_world: ApiWorld, variables: dict[str, Any]
) -> None:
    body = gql(client, SEARCH, variables, api_world.tokens["physician"])
    assert codes(body) == ["BAD_USER_INPUT"]


def test_depth_limit_rejects_a_deep_query(api_db_url: str, api_world: ApiWorld) -> None:
    # Today's graph has no cycles, so no query can pass the production limit; the same
    # limiter with a small limit shows it refuses before running anything.
    app = create_app(settings_for(api_db_url))
    shallow = graphql_app(development=False, production=False, max_depth=3)
    app.router.routes.insert(0, Route("/graphql-shallow", shallow))
    token = api_world.tokens["physician"]
    with TestClient(app) as http:
        ok = http.post(
            "/graphql-shallow",
            json={"query": "{ patients { edges { node { id } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert "errors" not in ok
        deep = http.post(
            "/graphql-shallow",
            json={"query": "{ patients { edges { node { withheld { field } } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    assert deep["data"] is None
    assert "exceeds maximum operation depth" in deep["errors"][0]["message"]


def _events(engine: Engine, since: int = 0) -> list[AuditEvent]:
    with transaction(engine) as s:
        query = select(AuditEvent).where(AuditEvent.seq > since).order_by(AuditEvent.seq)
        return list(s.execute(query).scalars())


def _last_seq(engine: Engine) -> int:
    events = _events(engine)
    return events[-1].seq if events else 0


def test_one_audit_event_per_patient_read_with_no_values(
    client: TestClient, api_world: ApiWorld, api_engine: Engine
) -> None:
    since = _last_seq(api_engine)
    jose = api_world.patients["jose"]
    body = gql(client, PATIENT_360, {"id": str(jose)}, api_world.tokens["front_desk"])
    assert "errors" not in body
    events = _events(api_engine, since=since)
    assert len(events) == 1
    event_ = events[0]
    assert (event_.patient_id, event_.action, event_.outcome) == (jose, "read", "success")
    assert set(event_.record_types) == {
        "Patient",
        "ContactPoint",
        "EmergencyContact",
        "Appointment",
        "Encounter",
        "Coverage",
    }
    assert "Patient.given_name" in event_.fields
    assert "Appointment.reason_code:field_group:visit_reasons" in event_.masked_fields
    assert "Patient.conditions:field_group:diagnoses" in event_.masked_fields
    assert len(event_.policy_version or "") == 64
    text = repr([getattr(event_, c.key) for c in AuditEvent.__table__.columns])
    phi = ("José", "Álvarez", api_world.phone, api_world.mrn, "F32.1", "Follow-up", "Contact 0")
    for value in phi:
        assert value not in text


def test_a_miss_is_audited_as_not_found(
    client: TestClient, api_world: ApiWorld, api_engine: Engine
) -> None:
    since = _last_seq(api_engine)
    other = api_world.patients["other"]
    gql(client, PATIENT_360, {"id": str(other)}, api_world.tokens["physician"])
    events = _events(api_engine, since=since)
    assert [(e.patient_id, e.outcome) for e in events] == [(other, "not_found")]


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement the app sends (it opens its own engine on the same URL)."""
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


# What each role reads of the record; between them, every category.
READS = {
    "front_desk": {"appointments", "encounters", "coverage"},
    "physician": set(CATEGORIES) - {"coverage", "charges", "invoices", "payments", "reviews"},
    "billing": {
        "appointments",
        "encounters",
        "coverage",
        "admissions",
        "discharges",
        "priorAuthorizations",
        "charges",
        "invoices",
        "payments",
    },
    "alumni_coordinator": {
        "alumniMemberships",
        "alumniCheckIns",
        "alumniEventAttendances",
        "surveyInvitations",
        "surveyResponses",
        "reviews",
    },
}


def test_the_roles_of_the_statement_count_test_read_every_category() -> None:
    assert set().union(*READS.values()) == set(CATEGORIES)


@pytest.mark.parametrize("role", sorted(READS))
def test_statement_count_does_not_grow_with_the_record(
    client: TestClient, api_world: ApiWorld, statements: list[str], role: str
) -> None:
    # A withheld category costs no statement at all; a read one costs the same for 2
    # records as for 40.
    token = api_world.tokens[role]
    counts = {}
    for key, expected in (("few", 2), ("many", 40)):
        gql(client, PATIENT_360, {"id": str(api_world.patients["few"])}, token)  # warm caches
        statements.clear()
        body = gql(client, PATIENT_360, {"id": str(api_world.patients[key])}, token)
        assert "errors" not in body, body
        patient = body["data"]["patient"]
        read: set[str] = set()
        for category in CATEGORIES:
            if patient[category] is not None:
                assert len(patient[category]) == expected, category
                read.add(category)
        for plan in patient["carePlans"] or ():
            assert len(plan["goals"]) == len(plan["tasks"]) == 1
        assert read == READS[role]
        counts[key] = len(statements)
    assert counts["few"] == counts["many"], counts
