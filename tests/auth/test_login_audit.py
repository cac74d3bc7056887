"""Every sign-in attempt lands in the audit trail, and what was typed never does."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access import audit
from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.db import transaction
from tests.auth.conftest import PASSWORD, committed_staff, new_address

Http = Callable[..., TestClient]


def _events_from(engine: Engine, address: str) -> list[AuditEvent]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.address == address).order_by(AuditEvent.seq)
            )
        )


def test_sign_ins_are_audited_without_what_was_typed(engine: Engine, http: Http) -> None:
    _, username = committed_staff(engine)
    address = new_address()
    client = http(address)
    typed_secret = "my-real-password-typed-as-username"
    assert (
        client.post("/auth/login", data={"username": username, "password": "nope"}).status_code
        == 401
    )
    assert (
        client.post("/auth/login", data={"username": typed_secret, "password": "x"}).status_code
        == 401
    )
    assert (
        client.post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 200
    )

    events = _events_from(engine, address)
    summary = [(e.action, e.outcome, e.actor_username) for e in events]
    assert summary == [
        (AuditAction.FAILED_LOGIN, AuditOutcome.DENIED, username),
        (AuditAction.FAILED_LOGIN, AuditOutcome.DENIED, "unknown-account"),
        (AuditAction.LOGIN, AuditOutcome.SUCCESS, username),
    ]
    for event in events:
        assert typed_secret not in repr(vars(event))
        assert PASSWORD not in repr(vars(event))
    with transaction(engine) as session:
        assert audit.verify(session).ok
