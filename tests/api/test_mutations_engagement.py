"""logCommunication and recordConsentByPhone over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from backend.access.models import AuditAction
from backend.common.mixins import PatientRecord
from backend.db import transaction
from backend.engagement.consent import Consent
from backend.engagement.models import Communication
from tests.api.conftest import ApiWorld, operation
from tests.api.crew import (
    Crew,
    audit_text,
    crew_fixture,  # noqa: F401  (the `crew` fixture)
    error,
    latest_audit,
    ok,
)
from tests.api.test_patient_api import gql

LOG = operation("LogCommunication")
CONSENT = operation("RecordConsentByPhone")
BODY = "Patient called to move Thursday's session; prefers mornings."


def _call(patient: uuid.UUID, **extra: object) -> dict[str, object]:
    return {
        "input": {
            "patientId": str(patient),
            "channel": "phone",
            "direction": "inbound",
            "occurredAt": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "subject": "Reschedule",
            "body": BODY,
            "durationSeconds": 240,
            **extra,
        }
    }


def _count(engine: Engine, model: type[PatientRecord], patient: uuid.UUID) -> int:
    with transaction(engine) as s:
        count = s.scalar(select(func.count()).where(model.patient_id == patient))
        return count or 0


def test_a_clinician_logs_a_call_and_the_audit_row_names_fields_not_values(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    jose = crew.patient
    data = ok(client, LOG, _call(jose), api_world.tokens["physician"])
    logged = data["logCommunication"]
    assert logged["channel"] == "phone"
    assert logged["direction"] == "inbound"
    assert logged["status"] == "received"
    assert logged["durationSeconds"] == 240
    assert logged["staffId"] == str(crew.ids["physician"])
    assert logged["version"] == 1
    assert logged["withheld"] == []
    event = latest_audit(api_engine, crew.ids["physician"], AuditAction.CREATE)
    assert event.patient_id == jose
    assert event.record_types == ["Communication"]
    assert {"Communication.body", "Communication.subject", "Communication.channel"} <= set(
        event.fields
    )
    assert BODY not in audit_text(event)
    assert "Reschedule" not in audit_text(event)


def test_front_desk_may_log_a_call_without_reading_the_message_history(
    client: TestClient, api_world: ApiWorld, crew: Crew
) -> None:
    data = ok(client, LOG, _call(crew.patient), api_world.tokens["front_desk"])
    logged = data["logCommunication"]
    assert logged["id"]
    assert logged["subject"] is None  # written, but front desk does not read messages
    assert {"field": "subject", "rule": "field_group:communications"} in logged["withheld"]


def test_a_role_without_the_write_group_is_forbidden_and_nothing_is_written(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    jose = crew.patient
    before = _count(api_engine, Communication, jose)
    alumni = error(gql(client, LOG, _call(jose), api_world.tokens["alumni_coordinator"]))
    assert alumni["extensions"]["code"] == "FORBIDDEN"
    assert "Communication." in alumni["message"]  # which fields, never which patient
    # An admin's token carries no patients:write scope at all.
    admin = error(gql(client, LOG, _call(jose), api_world.tokens["admin"]))
    assert admin["extensions"]["code"] == "FORBIDDEN"
    assert _count(api_engine, Communication, jose) == before


def test_out_of_scope_and_unknown_patients_answer_not_found_alike(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    other = api_world.patients["other"]
    before = _count(api_engine, Communication, other)
    out = error(gql(client, LOG, _call(other), api_world.tokens["physician"]))
    missing = error(gql(client, LOG, _call(uuid.uuid4()), api_world.tokens["physician"]))
    assert out["extensions"] == missing["extensions"] == {"code": "NOT_FOUND"}
    assert out["message"] == missing["message"]
    assert _count(api_engine, Communication, other) == before


def test_bad_input_names_every_bad_field_and_writes_nothing(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    jose = crew.patient
    before = _count(api_engine, Communication, jose)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = gql(
        client,
        LOG,
        _call(jose, channel="pigeon", occurredAt=future, durationSeconds=-1),
        api_world.tokens["physician"],
    )
    err = error(body)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert err["extensions"]["field"] == "channel"
    fields = [p["field"] for p in err["extensions"]["problems"]]
    assert fields == ["channel", "occurredAt", "durationSeconds"]
    assert "pigeon" not in str(err)  # values are never echoed back
    naive = gql(
        client, LOG, _call(jose, occurredAt="2025-01-01T09:00:00"), api_world.tokens["physician"]
    )
    assert error(naive)["extensions"]["field"] == "occurredAt"
    empty = gql(client, LOG, _call(jose, subject=" ", body=None), api_world.tokens["physician"])
    assert error(empty)["extensions"]["field"] == "body"
    bad_id = gql(client, LOG, _call(jose, patientId="nope"), api_world.tokens["physician"])
    assert error(bad_id)["extensions"]["field"] == "patientId"
    assert _count(api_engine, Communication, jose) == before


def test_consent_by_phone_is_kept_with_phone_provenance_and_the_staff_member(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    variables = {
        "input": {
            "patientId": str(crew.patient),
            "kind": "telehealth",
            "purpose": "Video sessions for the IOP programme",
            "relationship": "guardian",
            "givenBy": "Maria Alvarez",
            "dataCategories": ["session_recordings"],
        }
    }
    data = ok(client, CONSENT, variables, crew.tokens["care_coordinator"])
    consent = data["recordConsentByPhone"]
    assert consent["source"] == "phone"
    assert consent["status"] == "active"
    assert consent["kind"] == "telehealth"
    assert consent["provisionType"] == "permit"
    assert consent["signedByName"] == "Maria Alvarez"
    assert consent["signerRelationship"] == "guardian"
    assert consent["witnessId"] == str(crew.ids["care_coordinator"])
    assert consent["grantedAt"]
    event = latest_audit(api_engine, crew.ids["care_coordinator"], AuditAction.CREATE)
    assert event.record_types == ["Consent"]
    assert "Consent.source" in event.fields
    assert "Maria" not in audit_text(event)
    assert "IOP" not in audit_text(event)


def test_consents_that_need_a_signature_cannot_be_taken_by_phone(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    jose = crew.patient
    before = _count(api_engine, Consent, jose)
    base = {"patientId": str(jose), "purpose": "Disclose to the county court"}
    part2 = gql(
        client,
        CONSENT,
        {"input": {**base, "kind": "part2_disclosure"}},
        crew.tokens["care_coordinator"],
    )
    assert error(part2)["extensions"]["field"] == "kind"
    nameless = gql(
        client,
        CONSENT,
        {"input": {**base, "kind": "treatment", "relationship": "guardian"}},
        crew.tokens["care_coordinator"],
    )
    assert error(nameless)["extensions"]["field"] == "givenBy"
    billing_like = gql(
        client,
        CONSENT,
        {"input": {**base, "kind": "treatment"}},
        api_world.tokens["alumni_coordinator"],
    )
    assert error(billing_like)["extensions"]["code"] == "FORBIDDEN"
    out = gql(
        client,
        CONSENT,
        {"input": {**base, "kind": "treatment", "patientId": str(api_world.patients["other"])}},
        crew.tokens["care_coordinator"],
    )
    assert error(out)["extensions"]["code"] == "NOT_FOUND"
    assert _count(api_engine, Consent, jose) == before
