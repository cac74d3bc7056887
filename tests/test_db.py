"""Transactions that open with a SAVEPOINT are still one transaction (both databases)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select

from backend.db import transaction, write_transaction
from backend.interop.hl7v2.models import Hl7Message, MessageState


class Abandon(Exception):
    pass


def _message(control_id: str) -> Hl7Message:
    return Hl7Message(
        id=uuid.uuid4(),
        source="TEST|DB",
        control_id=control_id,
        digest=uuid.uuid4().hex,
        message_type="ADT^A04",
        version="2.5.1",
        transport="file",
        state=MessageState.RECEIVED,
        raw="MSH|^~\\&|TEST|DB",
    )


def _stored(engine: Engine, control_id: str) -> bool:
    with transaction(engine) as session:
        found = session.scalars(select(Hl7Message.id).where(Hl7Message.control_id == control_id))
        return found.first() is not None


def _release_then_abandon(engine: Engine, control_id: str) -> None:
    with write_transaction(engine) as session:
        with session.begin_nested():
            session.add(_message(control_id))
        raise Abandon


def test_a_released_savepoint_is_undone_when_the_whole_rolls_back(engine: Engine) -> None:
    # The listener's group: a savepoint per message, one commit for all. On SQLite the
    # driver would run a leading SAVEPOINT in autocommit mode and its RELEASE would commit.
    control_id = f"db-{uuid.uuid4().hex}"
    with pytest.raises(Abandon):
        _release_then_abandon(engine, control_id)
    assert not _stored(engine, control_id)


def test_a_write_transaction_commits_its_savepoints(engine: Engine) -> None:
    control_id = f"db-{uuid.uuid4().hex}"
    with write_transaction(engine) as session, session.begin_nested():
        session.add(_message(control_id))
    assert _stored(engine, control_id)
    with transaction(engine) as session:
        row = session.scalars(select(Hl7Message).where(Hl7Message.control_id == control_id)).one()
        session.delete(row)
