"""A change the policy refuses (FORBIDDEN) or scope refuses (NOT_FOUND) is audited too.

Over real HTTP on both databases: the refused mutation leaves one event in the
hash-chained trail (actor, roles, what was asked, what was lacking, the outcome; no id
or value from the input), nothing else is written, and ``patient360 audit verify``
still finds the chain intact.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from backend.access import audit
from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.careplans.models import Task
from backend.cli import app as cli
from backend.db import transaction
from backend.settings import get_settings
from tests.api.conftest import ApiWorld, operation
from tests.api.crew import Crew, audit_text, crew_fixture, error, latest_audit  # noqa: F401
from tests.api.test_patient_api import gql

CREATE_TASK = operation("CreateTask")
BREAK_GLASS = operation("BreakGlass")
SECRET_TITLE = "Refused-title-7f3a"  # must never reach the trail


def _events_after(engine: Engine, seq: int) -> list[AuditEvent]:
    with transaction(engine) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq)))
        s.expunge_all()
        return rows


def _last_seq(engine: Engine) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)


def _refusals(events: list[AuditEvent], actor: uuid.UUID) -> list[AuditEvent]:
    return [e for e in events if e.actor_id == actor and e.outcome is not AuditOutcome.SUCCESS]


def test_a_write_the_policy_refuses_is_audited_as_denied(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    before = _last_seq(api_engine)
    billing = _billing_id(api_engine, api_world)
    # Billing is on the patient's team but may not write tasks: refused by the policy.
    body = gql(
        client,
        CREATE_TASK,
        {"input": {"patientId": str(crew.patient), "title": SECRET_TITLE}},
        api_world.tokens["billing"],
    )
    assert error(body)["extensions"]["code"] == "FORBIDDEN"
    (event,) = _refusals(_events_after(api_engine, before), billing)
    assert event.action is AuditAction.CREATE
    assert event.outcome is AuditOutcome.DENIED
    assert event.roles == ["billing"]
    assert event.record_types == ["Mutation"]
    assert "Mutation.createTask" in event.fields
    assert "Task.title" in event.fields  # a field the role may not write
    assert event.patient_id is None
    assert SECRET_TITLE not in audit_text(event)
    assert str(crew.patient) not in audit_text(event)
    # Admin's token carries no patients:write scope: refused before any policy line.
    before = _last_seq(api_engine)
    gql(
        client,
        CREATE_TASK,
        {"input": {"patientId": str(crew.patient), "title": SECRET_TITLE}},
        api_world.tokens["admin"],
    )
    (event,) = _refusals(_events_after(api_engine, before), crew.ids["admin"])
    assert event.fields == ["Mutation.createTask", "token_scope:patients:write"]
    with transaction(api_engine) as s:
        assert s.scalar(select(func.count()).where(Task.title == SECRET_TITLE)) == 0


def test_a_capability_refusal_names_the_capability(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    body = gql(
        client,
        BREAK_GLASS,
        {"patientId": str(api_world.patients["other"]), "reason": "Found unresponsive"},
        api_world.tokens["billing"],
    )
    assert error(body)["extensions"]["code"] == "FORBIDDEN"
    event = latest_audit(api_engine, _billing_id(api_engine, api_world), AuditAction.BREAK_GLASS)
    assert event.outcome is AuditOutcome.DENIED
    assert event.fields == sorted(["Mutation.breakGlass", "capability.break_glass"])
    assert "unresponsive" not in audit_text(event)


def _billing_id(engine: Engine, world: ApiWorld) -> uuid.UUID:
    from backend.accounts.models import StaffUser

    with transaction(engine) as s:
        return s.scalars(
            select(StaffUser.id).where(StaffUser.username == f"billing-{world.tag}")
        ).one()


@pytest.mark.parametrize("target", ["out_of_scope", "missing"])
def test_a_write_scope_refuses_is_audited_as_not_found(
    target: str, client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    patient = api_world.patients["other"] if target == "out_of_scope" else uuid.uuid4()
    before = _last_seq(api_engine)
    body = gql(
        client,
        CREATE_TASK,
        {"input": {"patientId": str(patient), "title": SECRET_TITLE}},
        crew.tokens["nurse"],
    )
    assert error(body)["extensions"] == {"code": "NOT_FOUND"}
    (event,) = _refusals(_events_after(api_engine, before), crew.ids["nurse"])
    assert event.action is AuditAction.CREATE
    assert event.outcome is AuditOutcome.NOT_FOUND
    assert event.fields == ["Mutation.createTask"]
    assert event.record_types == ["Mutation"]
    assert SECRET_TITLE not in audit_text(event)


def test_bad_input_is_no_refusal(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    """BAD_USER_INPUT is the caller's typo, not an access decision: nothing is audited."""
    before = _last_seq(api_engine)
    body = gql(
        client,
        CREATE_TASK,
        {"input": {"patientId": "not-an-id", "title": SECRET_TITLE}},
        crew.tokens["nurse"],
    )
    assert error(body)["extensions"]["code"] == "BAD_USER_INPUT"
    assert _refusals(_events_after(api_engine, before), crew.ids["nurse"]) == []


def test_the_chain_still_verifies_after_refusals(
    client: TestClient,
    api_world: ApiWorld,
    api_engine: Engine,
    api_db_url: str,
    crew: Crew,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for token in (api_world.tokens["admin"], crew.tokens["nurse"]):
        gql(
            client,
            CREATE_TASK,
            {"input": {"patientId": str(api_world.patients["other"]), "title": "x"}},
            token,
        )
    with transaction(api_engine) as s:
        assert audit.verify(s).ok
    monkeypatch.setenv("P360_DATABASE_URL", api_db_url)
    monkeypatch.setenv("P360_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audit", "verify"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.output
