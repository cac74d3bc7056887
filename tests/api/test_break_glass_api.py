"""Break-glass and the auditors' view of the trail, over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access.models import AuditAction, AuditEvent, AuditOutcome, BreakGlassGrant
from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.auth.tokens import default_scopes, issue_access_token
from backend.db import transaction
from tests.api.conftest import ApiWorld, operation, settings_for
from tests.api.test_patient_api import codes, gql

PATIENT_360 = operation("Patient360")
BREAK_GLASS = operation("BreakGlass")
AUDIT_EVENTS = operation("AuditEvents")
REVIEW = operation("BreakGlassReview")
MARK_REVIEWED = operation("MarkBreakGlassReviewed")
REASON = "Patient unresponsive in the ED; the on-call team is unreachable."


@dataclass
class Outsiders:
    """Staff made fresh for each test, so grants and trails do not leak between tests."""

    physician_id: uuid.UUID
    physician_name: str
    physician: str  # bearer tokens
    auditor: str
    front_desk: str
    ids: tuple[uuid.UUID, ...]


@pytest.fixture
def outsiders(api_engine: Engine, api_db_url: str) -> Outsiders:
    tag = uuid.uuid4().hex[:8]
    tokens: dict[str, str] = {}
    ids: dict[str, uuid.UUID] = {}
    with transaction(api_engine) as s:
        for role in (StaffRole.PHYSICIAN, StaffRole.AUDITOR, StaffRole.FRONT_DESK):
            # On no care team: every patient is out of scope for all three.
            user = StaffUser(id=uuid.uuid4(), username=f"{role.value}-out-{tag}", display_name="x")
            s.add(user)
            s.flush()
            s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
            ids[role.value] = user.id
            tokens[role.value] = issue_access_token(
                session=s,
                settings=settings_for(api_db_url),
                staff_user_id=user.id,
                scopes=default_scopes(frozenset({role.value})),
                lifetime=timedelta(hours=1),
            ).access_token
    return Outsiders(
        physician_id=ids["physician"],
        physician_name=f"physician-out-{tag}",
        physician=tokens["physician"],
        auditor=tokens["auditor"],
        front_desk=tokens["front_desk"],
        ids=tuple(ids.values()),
    )


def _reads(engine: Engine, actor_id: uuid.UUID, patient_id: uuid.UUID) -> list[AuditEvent]:
    with transaction(engine) as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.seq)
        ).all()
        s.expunge_all()
        return list(rows)


def test_break_glass_opens_an_out_of_scope_patient_and_flags_every_read(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, outsiders: Outsiders
) -> None:
    jose = str(api_world.patients["jose"])
    before = gql(client, PATIENT_360, {"id": jose}, outsiders.physician)
    assert codes(before) == ["NOT_FOUND"]
    assert before["data"]["patient"] is None

    granted = gql(client, BREAK_GLASS, {"patientId": jose, "reason": REASON}, outsiders.physician)
    assert "errors" not in granted, granted
    access = granted["data"]["breakGlass"]
    assert access["patientId"] == jose
    assert access["expiresAt"]

    after = gql(client, PATIENT_360, {"id": jose}, outsiders.physician)
    assert "errors" not in after, after
    assert after["data"]["patient"]["givenName"] == "José"
    assert len(after["data"]["patient"]["conditions"]) == 2  # still no Part 2 record

    events = _reads(api_engine, outsiders.physician_id, api_world.patients["jose"])
    assert [(e.action, e.outcome, e.break_glass) for e in events] == [
        (AuditAction.READ, AuditOutcome.NOT_FOUND, False),
        (AuditAction.BREAK_GLASS, AuditOutcome.SUCCESS, True),
        (AuditAction.READ, AuditOutcome.SUCCESS, True),
    ]
    assert {str(e.break_glass_grant_id) for e in events[1:]} == {access["grantId"]}
    assert REASON not in repr([getattr(events[1], c.key) for c in AuditEvent.__table__.columns])

    # The grant covers that patient only.
    other = gql(client, PATIENT_360, {"id": str(api_world.patients["other"])}, outsiders.physician)
    assert codes(other) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("who", "patient", "reason", "code"),
    [
        ("physician", "jose", "too short", "BAD_USER_INPUT"),
        ("physician", "jose", "          padded          ", "BAD_USER_INPUT"),
        ("physician", "jose", "x" * 2001, "BAD_USER_INPUT"),
        ("physician", "nobody", REASON, "NOT_FOUND"),
        ("physician", "not-an-id", REASON, "BAD_USER_INPUT"),
        ("front_desk", "jose", REASON, "FORBIDDEN"),  # no break_glass capability
        ("auditor", "jose", REASON, "FORBIDDEN"),
    ],
)
def test_break_glass_refusals(
    client: TestClient,
    api_world: ApiWorld,
    api_engine: Engine,
    outsiders: Outsiders,
    who: str,
    patient: str,
    reason: str,
    code: str,
) -> None:
    patient_id = {"jose": str(api_world.patients["jose"]), "nobody": str(uuid.uuid4())}.get(
        patient, patient
    )
    body = gql(
        client, BREAK_GLASS, {"patientId": patient_id, "reason": reason}, getattr(outsiders, who)
    )
    assert codes(body) == [code]
    assert body["data"] is None
    with transaction(api_engine) as s:
        staff = BreakGlassGrant.staff_user_id.in_(outsiders.ids)
        assert s.scalar(select(BreakGlassGrant.id).where(staff)) is None


def test_auditors_query_the_trail_by_patient_actor_and_period_with_cursors(
    client: TestClient, api_world: ApiWorld, outsiders: Outsiders
) -> None:
    jose = str(api_world.patients["jose"])
    gql(client, PATIENT_360, {"id": jose}, outsiders.physician)  # a miss
    gql(client, BREAK_GLASS, {"patientId": jose, "reason": REASON}, outsiders.physician)
    gql(client, PATIENT_360, {"id": jose}, outsiders.physician)  # a flagged read
    mine = {"patientId": jose, "actor": outsiders.physician_name}

    body = gql(client, AUDIT_EVENTS, mine, outsiders.auditor)
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["auditEvents"]["edges"]]
    # Newest first; nothing withheld from an auditor; no reason text in the trail.
    assert [(n["action"], n["outcome"], n["breakGlass"]) for n in nodes] == [
        ("read", "success", True),
        ("break_glass", "success", True),
        ("read", "not_found", False),
    ]
    assert all(n["withheld"] == [] and n["patientId"] == jose for n in nodes)
    assert "Patient.given_name" in nodes[0]["fields"]
    assert REASON not in str(body)

    # The same three, one page at a time.
    seen, after = [], None
    while True:
        page = gql(client, AUDIT_EVENTS, {**mine, "first": 1, "after": after}, outsiders.auditor)
        connection = page["data"]["auditEvents"]
        seen += [e["node"]["id"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [n["id"] for n in nodes]

    # A period that ends before the events finds none; the actor's id works like the name.
    empty = gql(client, AUDIT_EVENTS, {**mine, "to": "2000-01-01T00:00:00Z"}, outsiders.auditor)
    assert empty["data"]["auditEvents"]["edges"] == []
    by_id = gql(
        client,
        AUDIT_EVENTS,
        {"patientId": jose, "actor": str(outsiders.physician_id), "from": nodes[-1]["occurredAt"]},
        outsiders.auditor,
    )
    assert [e["node"]["id"] for e in by_id["data"]["auditEvents"]["edges"]] == seen


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"first": 0}, "BAD_USER_INPUT"),
        ({"first": 201}, "BAD_USER_INPUT"),
        ({"after": "bm90LWEtY3Vyc29y"}, "BAD_USER_INPUT"),
        ({"after": "%%%"}, "BAD_USER_INPUT"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "BAD_USER_INPUT"),
        ({"patientId": "not-an-id"}, "BAD_USER_INPUT"),
    ],
)
def test_audit_event_inputs_are_checked(
    client: TestClient, outsiders: Outsiders, variables: dict[str, object], code: str
) -> None:
    assert codes(gql(client, AUDIT_EVENTS, variables, outsiders.auditor)) == [code]


@pytest.mark.parametrize("who", ["physician", "front_desk", "admin"])
def test_only_auditors_see_the_trail_and_the_review_list(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, who: str
) -> None:
    token = api_world.tokens[who]
    trail = gql(client, AUDIT_EVENTS, {}, token)
    assert codes(trail) == ["FORBIDDEN"]
    assert trail["data"] is None
    review = gql(client, REVIEW, {}, token)
    assert codes(review) == ["FORBIDDEN"]
    assert review["data"] is None
    marked = gql(client, MARK_REVIEWED, {"grantId": str(uuid.uuid4())}, token)
    assert codes(marked) == ["FORBIDDEN"]
    with transaction(api_engine) as s:  # the refused look at the trail is itself audited
        refused = s.scalars(
            select(AuditEvent.record_types).where(
                AuditEvent.actor_username == f"{who}-{api_world.tag}",
                AuditEvent.outcome == AuditOutcome.DENIED,
            )
        ).all()
    assert ["AuditEvent"] in refused


def test_grants_are_listed_for_review_until_marked_reviewed(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, outsiders: Outsiders
) -> None:
    jose = str(api_world.patients["jose"])
    grant_id = gql(client, BREAK_GLASS, {"patientId": jose, "reason": REASON}, outsiders.physician)[
        "data"
    ]["breakGlass"]["grantId"]

    listed = gql(client, REVIEW, {"first": 500}, outsiders.auditor)
    assert "errors" not in listed, listed
    mine = [g for g in listed["data"]["breakGlassReview"] if g["id"] == grant_id]
    assert len(mine) == 1
    assert mine[0]["reason"] == REASON
    assert mine[0]["patientId"] == jose
    assert mine[0]["staffUserId"] == str(outsiders.physician_id)
    assert mine[0]["reviewedAt"] is None
    granted_at = datetime.fromisoformat(mine[0]["grantedAt"])
    assert datetime.fromisoformat(mine[0]["expiresAt"]) - granted_at == timedelta(minutes=60)

    marked = gql(
        client, MARK_REVIEWED, {"grantId": grant_id, "note": "Confirmed with ED"}, outsiders.auditor
    )
    assert "errors" not in marked, marked
    assert marked["data"]["markBreakGlassReviewed"]["reviewedAt"]
    assert marked["data"]["markBreakGlassReviewed"]["reviewNote"] == "Confirmed with ED"

    pending = gql(client, REVIEW, {"first": 500}, outsiders.auditor)["data"]["breakGlassReview"]
    assert grant_id not in {g["id"] for g in pending}
    everything = gql(client, REVIEW, {"first": 500, "unreviewedOnly": False}, outsiders.auditor)
    assert grant_id in {g["id"] for g in everything["data"]["breakGlassReview"]}

    unknown = gql(client, MARK_REVIEWED, {"grantId": str(uuid.uuid4())}, outsiders.auditor)
    assert codes(unknown) == ["NOT_FOUND"]
    with transaction(api_engine) as s:  # the review is an audited update
        update = s.scalars(
            select(AuditEvent).where(
                AuditEvent.action == AuditAction.UPDATE,
                AuditEvent.patient_id == api_world.patients["jose"],
                AuditEvent.actor_kind == "staff",
            )
        ).all()
        assert any("BreakGlassGrant.reviewed_at" in e.fields for e in update)
