"""A patient a message creates is handed to the matcher as built, not read back: the
record built from the rows written must be the one the database gives back."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from backend.interop.hl7v2.handlers import HANDLERS
from backend.interop.hl7v2.handlers.common import CREATED_KEY, MessageContext
from backend.interop.hl7v2.parse import Hl7ContentError, normalize, parse
from backend.mpi.records import Loaded, from_patients
from tests.interop.hl7v2.conftest import SECRET, fixture_messages, fixture_text


def built_and_read(
    session: Session, text: str
) -> tuple[dict[uuid.UUID, Loaded], dict[uuid.UUID, Loaded]]:
    parsed = parse(normalize(text))
    handler = HANDLERS[(parsed.header.message_code.upper(), parsed.header.trigger.upper())]
    session.info[CREATED_KEY] = {}
    ctx = MessageContext(
        session=session, header=parsed.header, message=parsed.message, secret_key=SECRET
    )
    handler(ctx)
    built: dict[uuid.UUID, Loaded] = session.info.pop(CREATED_KEY)
    session.flush()
    return built, from_patients(session, built)


def test_every_fixture_patient_is_built_as_the_database_reads_it(session: Session) -> None:
    compared = 0
    for name, n, text in fixture_messages():
        try:
            header = parse(normalize(text)).header
        except Hl7ContentError:
            continue
        if (header.message_code.upper(), header.trigger.upper()) not in HANDLERS:
            continue
        with session.begin_nested() as savepoint:
            try:
                built, read = built_and_read(session, text)
            except Hl7ContentError:
                savepoint.rollback()
                continue
            assert built == read, f"{name} #{n}"
            compared += len(built)
            savepoint.rollback()
    assert compared >= 15  # the fixtures that register a patient nobody has yet


def test_a_patient_seen_before_is_read_back(session: Session) -> None:
    first_built, _ = built_and_read(session, fixture_text("ADT-A04-01.hl7"))
    assert len(first_built) == 1
    again, _ = built_and_read(session, fixture_text("ADT-A08-01.hl7"))
    assert again == {}  # the update goes through the database read, as before
