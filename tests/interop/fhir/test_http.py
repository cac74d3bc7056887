"""POST /fhir over real HTTP with OAuth2 client-credentials tokens, on both databases."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from backend.access import audit
from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.accounts.models import StaffRole
from backend.app import create_app
from backend.auth.oauth import NewClient, create_client
from backend.db import make_engine, transaction
from backend.interop.fhir.validation import validate_model
from backend.migrations import upgrade_to_head
from backend.patients.models import Patient
from backend.settings import Settings
from tests.api.crew import audit_text
from tests.auth.conftest import committed_staff
from tests.conftest import BACKENDS

SECRET = "fhir-tests-secret-" + "k" * 40
BUNDLE = sorted(Path("/work/shared/fixtures/fhir/synthea").glob("*.json"))[0]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def fresh_bundle() -> dict[str, object]:
    """The Synthea bundle with new ids, so committed rows never meet other tests'."""
    text = BUNDLE.read_text(encoding="utf-8")
    mapping: dict[str, str] = {}
    text = _UUID.sub(lambda m: mapping.setdefault(m.group(0), str(uuid.uuid4())), text)
    bundle: dict[str, object] = json.loads(text)
    return bundle


@pytest.fixture(scope="module", params=BACKENDS)
def own_db(request: pytest.FixtureRequest, fresh_database_url: Any) -> str:
    """A database of this module's own: its commits (whole Synthea records) must not
    show up in other tests that count every row of a table in the shared one."""
    url: str = fresh_database_url(request.param)
    upgrade_to_head(url)
    return url


@pytest.fixture
def engine(own_db: str) -> Iterator[Engine]:
    eng = make_engine(own_db)
    yield eng
    eng.dispose()


@pytest.fixture
def http(own_db: str) -> Iterator[TestClient]:
    settings = Settings(env="test", database_url=own_db, secret_key=SecretStr(SECRET))
    with TestClient(create_app(settings)) as client:
        yield client


def _token(engine: Engine, http: TestClient, scopes: tuple[str, ...]) -> str:
    user_id, _ = committed_staff(engine, roles=(StaffRole.INTEGRATION,), password_hash=None)
    with transaction(engine) as session:
        new: NewClient = create_client(
            session=session, name="EHR feed", staff_user_id=user_id, scopes=scopes
        )
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(new.client_id, new.client_secret),
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_post_bundle_needs_the_import_scope(engine: Engine, http: TestClient) -> None:
    body = fresh_bundle()
    assert http.post("/fhir", json=body).status_code == 401
    token = _token(engine, http, ("patients:read",))
    refused = http.post("/fhir", json=body, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_a_refused_import_is_audited_as_denied_and_writes_nothing(
    engine: Engine, http: TestClient
) -> None:
    body = fresh_bundle()
    entries = body["entry"]
    assert isinstance(entries, list)
    patient = entries[0]["resource"]
    with transaction(engine) as session:
        before = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
    token = _token(engine, http, ("patients:read",))
    refused = http.post("/fhir", json=body, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    with transaction(engine) as session:
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > before)))
        session.expunge_all()
        imported = session.scalar(select(func.count()).where(Patient.source_id == patient["id"]))
        assert audit.verify(session).ok
    denied = [e for e in events if e.outcome is AuditOutcome.DENIED]
    assert [(e.action, e.client) for e in denied] == [(AuditAction.CREATE, "fhir")]
    (event,) = denied
    assert event.record_types == ["Fhir"]
    assert event.fields == ["Fhir.importBundle", "token_scope:fhir:import"]
    assert event.patient_id is None
    assert patient["id"] not in audit_text(event)
    assert patient["name"][0]["family"] not in audit_text(event)
    assert imported == 0


def test_post_bundle_imports_and_answers_a_transaction_response(
    engine: Engine, http: TestClient
) -> None:
    body = fresh_bundle()
    token = _token(engine, http, ("fhir:import",))
    headers = {"Authorization": f"Bearer {token}"}
    response = http.post("/fhir", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    validate_model(answer)
    assert answer["type"] == "transaction-response"
    entries = body["entry"]
    assert isinstance(entries, list)
    assert len(answer["entry"]) == len(entries)
    assert {e["response"]["status"] for e in answer["entry"]} == {"201 Created"}
    patient_source = entries[0]["resource"]["id"]
    with transaction(engine) as session:
        count = session.scalar(select(func.count()).where(Patient.source_id == patient_source))
        audited = session.scalar(
            select(func.count()).where(
                AuditEvent.action == AuditAction.CREATE, AuditEvent.client == "fhir-import"
            )
        )
    assert count == 1
    assert audited
    again = http.post("/fhir", json=body, headers=headers).json()
    assert {e["response"]["status"] for e in again["entry"]} == {"200 OK"}


def test_post_invalid_bundle_is_an_operation_outcome(engine: Engine, http: TestClient) -> None:
    body = fresh_bundle()
    entries = body["entry"]
    assert isinstance(entries, list)
    at = next(i for i, e in enumerate(entries) if "valueQuantity" in e["resource"])
    entries[at]["resource"]["valueQuantity"]["value"] = "many"
    token = _token(engine, http, ("fhir:import",))
    response = http.post("/fhir", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    outcome = response.json()
    validate_model(outcome)
    assert outcome["issue"][0]["expression"] == ["Observation.valueQuantity.value"]
    assert f"entry[{at}]" in outcome["issue"][0]["diagnostics"]
    too_big = http.post(
        "/fhir",
        content=b"{" + b" " * (21 * 1024 * 1024) + b"}",
        headers={"Authorization": f"Bearer {token}", "content-type": "application/fhir+json"},
    )
    assert too_big.status_code == 413
