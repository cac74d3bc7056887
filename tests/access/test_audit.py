"""The audit trail: appends chain, verify catches altered, deleted and reordered rows."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.access import audit
from backend.access.cli import audit_app
from backend.access.models import (
    AuditAction,
    AuditChainHead,
    AuditEvent,
    AuditOutcome,
    AuditTrailIsInsertOnly,
)
from backend.access.principal import BreakGlassGrant, Principal, PrincipalKind
from backend.db import make_engine
from backend.settings import get_settings
from tests.access.world import NOW
from tests.tables import table_of

ACTOR = Principal(
    kind=PrincipalKind.STAFF,
    subject_id=uuid.uuid4(),
    username="physician",
    roles=frozenset({"physician"}),
    client_address="10.0.0.7",
)


@pytest.fixture(autouse=True)
def _empty_trail(request: pytest.FixtureRequest) -> None:
    """Tests that read seq numbers literally start from an empty trail.

    Other tests (HTTP sign-ins) commit audit rows to the shared test database; inside this
    test's rolled-back transaction the trail is emptied, so those rows return afterwards.
    """
    if "session" in request.fixturenames:
        session: Session = request.getfixturevalue("session")
        session.execute(text("DELETE FROM audit_event"))
        session.execute(text("DELETE FROM audit_chain_head"))


def append(session: Session, n: int, patient: uuid.UUID | None = None) -> list[AuditEvent]:
    return [
        audit.record(
            session=session,
            principal=ACTOR,
            action=AuditAction.READ,
            patient_id=patient or uuid.uuid4(),
            record_types=["Patient", "Observation"],
            fields=["Patient.birth_date", "Observation.value_quantity"],
            masked_fields=["Observation.note:field_group:notes"],
            purpose="TREAT",
            request_id=f"req-{i}",
            policy_version="a" * 64,
            now=NOW + timedelta(seconds=i),
        )
        for i in range(n)
    ]


def problems(session: Session) -> set[tuple[int, str]]:
    return {(p.seq, p.kind) for p in audit.verify(session).problems}


def test_rows_chain_and_verify(session: Session) -> None:
    rows = append(session, 5)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    result = audit.verify(session)
    assert result.ok
    assert result.checked == 5
    assert rows[0].address == "10.0.0.7"
    assert rows[0].roles == ["physician"]


def test_an_altered_row_is_detected(session: Session) -> None:
    append(session, 4)
    session.execute(text("UPDATE audit_event SET outcome = 'denied' WHERE seq = 2"))
    assert problems(session) == {(2, "altered")}


def test_a_deleted_row_is_detected(session: Session) -> None:
    append(session, 4)
    session.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    assert problems(session) == {(3, "gap"), (3, "broken_link")}


def test_a_deleted_last_row_is_detected(session: Session) -> None:
    append(session, 3)
    session.execute(text("DELETE FROM audit_event WHERE seq = 3"))
    assert problems(session) == {(3, "head_mismatch")}


def test_reordered_rows_are_detected(session: Session) -> None:
    append(session, 4)
    # swap rows 2 and 3 by renumbering (seq is the primary key: go through a spare number)
    for old, new in ((2, 1000), (3, 2), (1000, 3)):
        session.execute(
            text("UPDATE audit_event SET seq = :new WHERE seq = :old"), {"new": new, "old": old}
        )
    kinds = {kind for _, kind in problems(session)}
    assert "altered" in kinds
    assert "broken_link" in kinds


def test_the_orm_refuses_to_change_or_delete_events(session: Session) -> None:
    (row,) = append(session, 1)
    row.outcome = AuditOutcome.DENIED
    with pytest.raises(AuditTrailIsInsertOnly):
        session.flush()
    session.rollback()


def test_break_glass_rows_are_flagged(session: Session) -> None:
    patient = uuid.uuid4()
    grant = BreakGlassGrant(patient, NOW + timedelta(minutes=30), uuid.uuid4())
    actor = Principal(
        kind=PrincipalKind.STAFF,
        subject_id=uuid.uuid4(),
        username="nurse",
        roles=frozenset({"nurse"}),
        break_glass=(grant,),
    )
    flagged = audit.record(
        session=session, principal=actor, action=AuditAction.READ, patient_id=patient, now=NOW
    )
    other = audit.record(
        session=session, principal=actor, action=AuditAction.READ, patient_id=uuid.uuid4(), now=NOW
    )
    assert flagged.break_glass
    assert flagged.break_glass_grant_id == grant.grant_id
    assert not other.break_glass


def test_failed_login_without_principal(session: Session) -> None:
    row = audit.record(
        session=session,
        principal=None,
        action=AuditAction.FAILED_LOGIN,
        outcome=AuditOutcome.DENIED,
        actor_username="someone",
        address="192.0.2.1",
    )
    assert row.actor_id is None
    assert audit.verify(session).ok


@pytest.mark.parametrize(
    "bad",
    [
        {"fields": ["Patient.given_name=Alice"]},
        {"fields": ["Jane Doe"]},
        {"record_types": ["Patient; DROP"]},
        {"purpose": "treat because of her overdose last night"},
        {"request_id": "x" * 200},
    ],
)
def test_values_cannot_be_smuggled_into_the_trail(session: Session, bad: dict[str, Any]) -> None:
    with pytest.raises(audit.AuditValueError) as caught:
        audit.record(session=session, principal=ACTOR, action=AuditAction.READ, **bad)
    # the error names the argument, never echoes the value
    for value in bad.values():
        text_value = value if isinstance(value, str) else str(value[0])
        assert text_value not in str(caught.value)


@pytest.fixture
def trail_db(
    fresh_database_url: Callable[[str], str], request: pytest.FixtureRequest
) -> Iterator[Engine]:
    """A private database with only the trail's tables, for committed, concurrent writes."""
    url = fresh_database_url(request.param)
    engine = make_engine(url)
    AuditEvent.metadata.create_all(
        engine,
        tables=[table_of(AuditEvent), table_of(AuditChainHead)],
    )
    yield engine
    engine.dispose()


@pytest.mark.parametrize("trail_db", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_writers_never_fork_the_chain(trail_db: Engine) -> None:
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(10):
                with Session(trail_db) as session, session.begin():
                    append(session, 1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(trail_db) as session:
        seqs = list(session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars())
        assert seqs == list(range(1, 61))
        assert audit.verify(session).ok


@pytest.mark.parametrize("trail_db", ["sqlite"], indirect=True)
def test_cli_verify(trail_db: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("P360_DATABASE_URL", str(trail_db.url))
    monkeypatch.setenv("P360_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        with Session(trail_db) as session, session.begin():
            append(session, 3)
        # mounted the way backend/cli.py mounts it
        root = typer.Typer()
        root.add_typer(audit_app, name="audit")
        runner = CliRunner()
        ok = runner.invoke(root, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        assert "3 events verified" in ok.output
        with trail_db.begin() as connection:
            connection.execute(text("UPDATE audit_event SET purpose = 'HPAYMT' WHERE seq = 2"))
        broken = runner.invoke(root, ["audit", "verify"])
        assert broken.exit_code == 1
        assert "seq 2: altered" in broken.output
    finally:
        get_settings.cache_clear()
