"""The HL7 v2 error queue over HTTP: ``hl7Messages`` and ``retryHl7Message`` with bearer
tokens, for a role that manages the queue and for roles that may not."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.accounts.models import StaffUser
from backend.auth.tokens import issue_access_token
from backend.db import transaction, write_transaction
from backend.interop.hl7v2.store import receive, store
from tests.api.conftest import ApiWorld, operation, settings_for
from tests.api.test_patient_api import codes, gql
from tests.interop.hl7v2.test_listener import adt_a04

MESSAGES = operation("Hl7Messages")
RETRY = operation("RetryHl7Message")


def _token(engine: Engine, db_url: str, world: ApiWorld, who: str, scopes: tuple[str, ...]) -> str:
    with transaction(engine) as session:
        user_id = session.scalars(
            select(StaffUser.id).where(StaffUser.username == f"{who}-{world.tag}")
        ).one()
        return issue_access_token(
            session=session,
            settings=settings_for(db_url),
            staff_user_id=user_id,
            scopes=scopes,
            lifetime=timedelta(minutes=10),
        ).access_token


def _failed(engine: Engine, db_url: str) -> str:
    """A message that failed on its content (a bad birth date): in the error queue."""
    control = uuid.uuid4().hex[:12]
    with transaction(engine) as session:
        receipt = receive(
            session=session,
            text=adt_a04(f"H{control}", control, birth="bad"),
            secret_key=settings_for(db_url).secret(),
        )
    return str(receipt.message_id)


def test_admin_lists_the_error_queue_and_retries(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, api_db_url: str
) -> None:
    message_id = _failed(api_engine, api_db_url)
    token = _token(api_engine, api_db_url, api_world, "admin", ("admin",))
    seen: dict[str, dict[str, object]] = {}
    after = None
    while True:  # other tests' messages share the database: page to the end
        body = gql(client, MESSAGES, {"state": "failed", "first": 50, "after": after}, token)
        assert "errors" not in body, body
        page = body["data"]["hl7Messages"]
        seen |= {e["node"]["id"]: e["node"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    node = seen[message_id]
    assert node["state"] == "failed"
    assert node["ackCode"] == "AE"
    assert node["errorDetail"] == "PID-7: not a valid HL7 date/time"  # where, not the value
    retried = gql(client, RETRY, {"id": message_id}, token)
    assert "errors" not in retried, retried
    assert retried["data"]["retryHl7Message"]["state"] == "failed"  # the cause is not fixed
    assert retried["data"]["retryHl7Message"]["attempts"] == 2
    missing = gql(client, RETRY, {"id": str(uuid.uuid4())}, token)
    assert codes(missing) == ["NOT_FOUND"]
    assert codes(gql(client, RETRY, {"id": "not-an-id"}, token)) == ["BAD_USER_INPUT"]


def test_roles_without_manage_hl7_are_forbidden(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, api_db_url: str
) -> None:
    message_id = _failed(api_engine, api_db_url)
    for who, scopes in (("physician", ("patients:read",)), ("billing", ("patients:write",))):
        token = _token(api_engine, api_db_url, api_world, who, scopes)
        listed = gql(client, MESSAGES, {"state": "failed"}, token)
        assert codes(listed) == ["FORBIDDEN"]
        assert listed["data"] is None
        retried = gql(client, RETRY, {"id": message_id}, token)
        assert codes(retried) == ["FORBIDDEN"]
    # An admin's token without the admin scope cannot use the queue either.
    narrow = _token(api_engine, api_db_url, api_world, "admin", ("audit:read",))
    assert codes(gql(client, MESSAGES, {}, narrow)) == ["FORBIDDEN"]
    anonymous = client.post("/graphql", json={"query": MESSAGES})
    assert codes(anonymous.json()) == ["UNAUTHENTICATED"]


def test_a_message_acknowledged_when_stored_lists_as_received_until_applied(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, api_db_url: str
) -> None:
    """A listener with ``ack_after="stored"`` keeps messages ``received`` until its
    applier runs: the listing shows them with the AA their sender got and no attempt
    yet; a retry applies one (what the applier would have done)."""
    control = uuid.uuid4().hex[:12]
    with write_transaction(api_engine) as session:
        message_id = str(store(session=session, text=adt_a04(f"R{control}", control)).message_id)
    token = _token(api_engine, api_db_url, api_world, "admin", ("admin",))
    body = gql(client, MESSAGES, {"state": "received", "first": 500}, token)
    assert "errors" not in body, body
    nodes = {e["node"]["id"]: e["node"] for e in body["data"]["hl7Messages"]["edges"]}
    node = nodes[message_id]
    assert (node["state"], node["ackCode"], node["attempts"]) == ("received", "AA", 0)
    assert node["errorCode"] is None
    retried = gql(client, RETRY, {"id": message_id}, token)
    assert "errors" not in retried, retried
    assert retried["data"]["retryHl7Message"]["state"] == "processed"
