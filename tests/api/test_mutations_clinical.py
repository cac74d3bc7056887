"""addClinicalNote over real HTTP on SQLite and PostgreSQL: clinicians only, psychotherapy
notes by therapists only and then readable by their author and the treating therapist."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from backend.access.models import AuditAction
from backend.clinical.models import ClinicalNote
from backend.common.types import Sensitivity
from backend.db import transaction
from tests.api.conftest import ApiWorld, operation
from tests.api.crew import Crew, audit_text, crew_fixture, error, latest_audit, ok  # noqa: F401
from tests.api.test_patient_api import gql

NOTE = operation("AddClinicalNote")
PATIENT_360 = operation("Patient360")
SECRET_BODY = "Discussed the patient's dream about the lake house in detail."


def _note(crew: Crew, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "patientId": str(crew.patient),
            "kind": "progress",
            "title": "Weekly session",
            "body": SECRET_BODY,
            **extra,
        }
    }


def _notes_seen(client: TestClient, crew: Crew, token: str) -> set[str]:
    body = gql(client, PATIENT_360, {"id": str(crew.patient)}, token)
    return {n["id"] for n in body["data"]["patient"]["notes"] or []}


def test_a_therapist_writes_a_psychotherapy_note_only_they_and_the_treating_therapist_read(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    note = ok(
        client,
        NOTE,
        _note(crew, kind="psychotherapy", sign=True),
        api_world.tokens["therapist"],
    )["addClinicalNote"]
    assert note["kind"] == "psychotherapy"
    assert note["status"] == "signed"
    assert note["docTypeCode"] == "34786-4"
    assert note["authorId"] == str(crew.ids["therapist"])
    assert note["withheld"] == []
    with transaction(api_engine) as s:
        row = s.get(ClinicalNote, uuid.UUID(note["id"]))
        assert row is not None
        assert Sensitivity.PSYCHOTHERAPY in row.sensitivity
    assert note["id"] in _notes_seen(client, crew, api_world.tokens["therapist"])
    # The physician is on the same team but neither author nor therapist.
    assert note["id"] not in _notes_seen(client, crew, api_world.tokens["physician"])
    event = latest_audit(api_engine, crew.ids["therapist"], AuditAction.CREATE)
    assert event.record_types == ["ClinicalNote"]
    assert "ClinicalNote.body" in event.fields
    assert SECRET_BODY not in audit_text(event)


def test_clinicians_add_notes_others_are_forbidden(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    progress = ok(client, NOTE, _note(crew), crew.tokens["nurse"])["addClinicalNote"]
    assert progress["status"] == "draft"
    assert progress["id"] in _notes_seen(client, crew, api_world.tokens["physician"])
    with transaction(api_engine) as s:
        before = s.scalar(select(func.count()).select_from(ClinicalNote))
    psycho = gql(client, NOTE, _note(crew, kind="psychotherapy"), api_world.tokens["physician"])
    assert error(psycho)["extensions"]["code"] == "FORBIDDEN"
    assert "write_psychotherapy_notes" in error(psycho)["message"]
    for token in (crew.tokens["care_coordinator"], api_world.tokens["front_desk"]):
        assert error(gql(client, NOTE, _note(crew), token))["extensions"]["code"] == "FORBIDDEN"
    other = _note(crew, patientId=str(api_world.patients["other"]))
    assert error(gql(client, NOTE, other, crew.tokens["nurse"]))["extensions"] == {
        "code": "NOT_FOUND"
    }
    bad = gql(client, NOTE, _note(crew, kind="poem", title=""), crew.tokens["nurse"])
    assert [p["field"] for p in error(bad)["extensions"]["problems"]] == ["kind", "title"]
    encounter = gql(client, NOTE, _note(crew, encounterId=str(uuid.uuid4())), crew.tokens["nurse"])
    assert error(encounter)["extensions"]["field"] == "encounterId"
    with transaction(api_engine) as s:
        assert s.scalar(select(func.count()).select_from(ClinicalNote)) == before
