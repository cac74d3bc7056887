"""Applying a batch of stored messages (:mod:`backend.interop.hl7v2.apply`): new
patients inserted in bulk end exactly as the one-at-a-time path writes them, a message
whose rows fail to insert fails alone, and messages of a batch naming the same patient
still apply one after the other."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from backend import bulk
from backend.db import make_engine, write_transaction
from backend.interop.hl7v2 import apply
from backend.interop.hl7v2.handlers.common import known_keys, read_patients
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.store import receive, store
from backend.migrations import upgrade_to_head
from backend.patients.models import (
    Address,
    ContactPoint,
    EmergencyContact,
    Patient,
    PatientIdentifier,
)
from tests.interop.hl7v2.conftest import SECRET

_SKIPPED = {"id", "patient_id", "recorded_at", "updated_at"}
_GIVEN = ["ANNA", "BORIS", "CLARA", "DMITRI", "ELENA", "FELIX", "GRETA"]


def _a04(tag: str, n: int, *, event: str = "A04", family: str = "BULKTEST") -> str:
    """A registration using most of what PID maps: SSN, several addresses and phones,
    an e-mail, language, race, a death, next of kin (one without a name)."""
    pid = [
        "PID", "1", "", f"{tag}{n}^^^TESTFAC^MR~123-45-678{n % 10}^^^SSA^SS~D{n}^^^IL^DL",
        "", f"{family}^{_GIVEN[n % len(_GIVEN)]}^Q^JR^DR", "", f"19{50 + n}0{n % 9 + 1}1{n % 9}",
        "FM"[n % 2], "", "2106-3^White^CDCREC",
        f"{n} MAIN ST^APT 2^SPRINGFIELD^IL^62701^USA^H~{n * 7} WORK RD^^CHICAGO^IL^60601^USA^B",
        "", f"(217)555-01{n:02d}^PRN^PH~^NET^Internet^p{n}@example.org", f"(312)555-02{n:02d}^WPN",
        "es" if n % 2 else "", "M^Married", "", "", "", "", "", "N^Not Hispanic", "", "", "",
        "", "", "", "", "20240101120000" if n == 3 else "", "Y" if n == 3 else "",
    ]  # fmt: skip
    return "\r".join(
        [
            f"MSH|^~\\&|TESTAPP|TESTFAC|P360|CLINIC|20240105101500||ADT^{event}|{tag}-{n}|P|2.5.1",
            f"EVN|{event}|20240105101500",
            "|".join(pid),
            f"NK1|1|{family}^JOHN|SPO^Spouse|||(217)555-03{n:02d}",
            "NK1|2||FTH^Father",
        ]
    )


def _value(value: Any, tag: str) -> Any:
    return value.replace(tag, "TAG") if isinstance(value, str) else value


def _snapshot(session: Session, tag: str) -> list[dict[str, Any]]:
    """Every patient whose MRN carries ``tag`` and its rows, without ids, timestamps
    or the tag: what the two paths must agree on."""
    found = []
    patients = session.scalars(
        select(Patient).where(Patient.source_id.like(f"{tag}%")).order_by(Patient.source_id)
    ).all()
    for patient in patients:
        item: dict[str, Any] = {
            c.key: _value(getattr(patient, c.key), tag)
            for c in Patient.__table__.c
            if c.key not in _SKIPPED
        }
        for model in (PatientIdentifier, Address, ContactPoint, EmergencyContact):
            rows = session.scalars(
                select(model).where(model.patient_id == patient.id).order_by(model.source_id)
            ).all()
            item[model.__name__] = [
                {c.key: _value(getattr(r, c.key), tag) for c in model.__table__.c}
                | dict.fromkeys(_SKIPPED)
                | {"deleted_at": r.deleted_at is not None}  # when differs; whether must not
                for r in rows
            ]
        found.append(item)
    return found


def _messages(engine: Engine, tag: str) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        return [
            (r.state, r.ack_code, r.attempts, r.error_code, r.warnings, len(r.patient_ids or []))
            for r in session.scalars(
                select(Hl7Message)
                .where(Hl7Message.control_id.like(f"{tag}-%"))
                .order_by(Hl7Message.control_id)
            )
        ]


def _store_all(engine: Engine, texts: list[str]) -> None:
    with write_transaction(engine) as session:
        for text in texts:
            assert store(session=session, text=text).ack_code == "AA"


@pytest.fixture
def bulk_inserts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many objects each bulk insert wrote (the real insert runs)."""
    calls: list[int] = []
    real = bulk.insert_objects

    def counted(session: Session, objects: Any) -> None:
        calls.append(len(objects))
        real(session, objects)

    monkeypatch.setattr(apply, "insert_objects", counted)
    return calls


@pytest.fixture
def new_engine(fresh_database_url: Callable[[str], str]) -> Iterator[Callable[[str], Engine]]:
    """Migrated databases of their own on the backend asked for, disposed after."""
    made: list[Engine] = []

    def make(backend: str) -> Engine:
        url = fresh_database_url(backend)
        upgrade_to_head(url)
        made.append(make_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


def _one_at_a_time(engine: Engine, texts: list[str]) -> None:
    """Each message received and processed in a transaction of its own (applied mode)."""
    for text in texts:
        with write_transaction(engine) as session:
            receive(session=session, text=text, secret_key=SECRET)


def _written_alike(batch: Engine, single: Engine, tag: str) -> list[dict[str, Any]]:
    """What the batch path wrote, once checked equal to what one at a time wrote."""
    assert _messages(batch, tag) == _messages(single, tag)
    assert {m[0] for m in _messages(batch, tag)} == {MessageState.PROCESSED}
    with Session(batch) as batch_session, Session(single) as single_session:
        written = _snapshot(batch_session, tag)
        assert written == _snapshot(single_session, tag)
    return written


def test_bulk_registrations_write_what_one_at_a_time_writes(
    feed_engine: Engine, bulk_inserts: list[int], new_engine: Callable[[str], Engine]
) -> None:
    """The same registrations, inserted in bulk here and mapped one message at a time
    through the ORM (applied mode) in a database of their own (else the matcher would
    merge each person with their twin): the same patients, rows and message states."""
    tag = "B" + uuid.uuid4().hex[:8]
    texts = [_a04(tag, n) for n in range(1, 6)]
    _store_all(feed_engine, texts)
    apply.apply_all(feed_engine, secret_key=SECRET)
    assert len(bulk_inserts) == 1  # the five patients and their rows, in bulk
    single = new_engine(feed_engine.dialect.name)
    _one_at_a_time(single, texts)
    assert len(_written_alike(feed_engine, single, tag)) == 5


def test_a_registration_whose_rows_fail_to_insert_fails_alone(
    feed_engine: Engine, bulk_inserts: list[int]
) -> None:
    """An MRN so long that two of its identifier rows get the same source id: the bulk
    insert fails, the batch goes one message at a time, and only that message ends in
    the error queue (as applied mode leaves it)."""
    tag = "L" + uuid.uuid4().hex[:8]
    texts = [_a04(tag, n, family="FAILTEST") for n in range(1, 4)]
    texts[1] = texts[1].replace(f"{tag}2^^^", f"{tag}2{'X' * 130}^^^")
    _store_all(feed_engine, texts)
    apply.apply_all(feed_engine, secret_key=SECRET)
    assert len(bulk_inserts) == 1
    states = _messages(feed_engine, tag)
    assert [(s[0], s[3]) for s in states] == [
        (MessageState.PROCESSED, None),
        (MessageState.FAILED, "internal_error"),
        (MessageState.PROCESSED, None),
    ]
    with write_transaction(feed_engine) as session:
        again = receive(
            session=session, text=texts[1].replace(f"{tag}-2", f"{tag}-x"), secret_key=SECRET
        )
    assert (again.state, again.error_code) == (MessageState.FAILED, "internal_error")
    with Session(feed_engine) as session:
        assert len(_snapshot(session, tag)) == 2


def test_messages_of_a_batch_naming_one_new_patient_apply_in_order(
    feed_engine: Engine, bulk_inserts: list[int]
) -> None:
    """An A04 and an A08 for the same new MRN in one batch: not inserted in bulk, the
    second updates what the first created."""
    tag = "O" + uuid.uuid4().hex[:8]
    texts = [_a04(tag, 1, family="ORDERTEST"), _a04(tag, 1, event="A08", family="RENAMED")]
    texts[1] = texts[1].replace(f"{tag}-1", f"{tag}-2")
    _store_all(feed_engine, [*texts, _a04(tag, 3, family="ORDERTEST")])
    apply.apply_all(feed_engine, secret_key=SECRET)
    assert bulk_inserts == [bulk_inserts[0]]  # only the third message's patient
    assert {m[0] for m in _messages(feed_engine, tag)} == {MessageState.PROCESSED}
    with Session(feed_engine) as session:
        names = session.scalars(
            select(Patient.family_name)
            .where(Patient.source_id.like(f"{tag}%"))
            .order_by(Patient.source_id)
        ).all()
    assert names == ["RENAMED", "ORDERTEST"]


def test_a_patient_whose_message_failed_is_created_by_a_later_one(
    feed_engine: Engine, bulk_inserts: list[int]
) -> None:
    """An A40 creates its surviving patient, then fails (the prior patient is unknown):
    the batch's look-up map must not keep the rolled-back patient, so the A04 after it
    creates the patient, once."""
    tag = "M" + uuid.uuid4().hex[:8]
    merge = "\r".join(
        [
            f"MSH|^~\\&|TESTAPP|TESTFAC|P360|CLINIC|20240105101500||ADT^A40|{tag}-1|P|2.5.1",
            "EVN|A40|20240105101500",
            f"PID|1||{tag}1^^^TESTFAC^MR||MERGETEST^ANNA||19800102|F",
            f"MRG|{tag}UNKNOWN^^^TESTFAC^MR",
        ]
    )
    register = _a04(tag, 1, family="MERGETEST").replace(f"{tag}-1", f"{tag}-2")
    _store_all(feed_engine, [merge, register])
    apply.apply_all(feed_engine, secret_key=SECRET)
    assert bulk_inserts == []  # both name the same MRN: applied one after the other
    assert [(m[0], m[3]) for m in _messages(feed_engine, tag)] == [
        (MessageState.FAILED, "content_error"),
        (MessageState.PROCESSED, None),
    ]
    with Session(feed_engine) as session:
        assert [p["given_name"] for p in _snapshot(session, tag)] == ["BORIS"]


def _update(text: str, control: str, address: str, *, keep_contacts: bool = False) -> str:
    """An A08 of a registration: new control id, PID-11 replaced by ``address``; without
    its NK1 segments (the contacts held stay) when ``keep_contacts``."""
    lines = text.split("\r")
    msh = lines[0].split("|")
    msh[8], msh[9] = "ADT^A08", control
    lines[0] = "|".join(msh)
    pid_at = next(i for i, line in enumerate(lines) if line.startswith("PID|"))
    pid = lines[pid_at].split("|")
    pid[11] = address
    lines[pid_at] = "|".join(pid)
    return "\r".join(line for line in lines if not (keep_contacts and line.startswith("NK1")))


def test_batch_updates_write_what_one_at_a_time_writes(
    feed_engine: Engine, new_engine: Callable[[str], Engine]
) -> None:
    """Updates of known patients in one batch (their rows read once for the batch): the
    same rows as one message at a time, including a patient updated twice in the batch
    whose first update added a row the second one rewrites. Each side in a database of
    its own (the package's other tests register these people's twins)."""
    tag = "U" + uuid.uuid4().hex[:8]
    registrations = [_a04(tag, n, family="UPDTEST") for n in range(1, 5)]
    three = "1 NEW RD^^A^IL^62701~2 NEW RD^^B^IL^62702~3 NEW RD^^C^IL^62703"
    updates = [
        _update(registrations[0], f"{tag}-u1", three),
        _update(registrations[1], f"{tag}-u2", '""', keep_contacts=True),
        _update(registrations[0], f"{tag}-u3", three.replace("NEW", "NEWER")),
        _update(registrations[2], f"{tag}-u4", "9 SOLO ST^^D^IL^62704", keep_contacts=True),
    ]
    batch, single = new_engine(feed_engine.dialect.name), new_engine(feed_engine.dialect.name)
    _store_all(batch, registrations)
    apply.apply_all(batch, secret_key=SECRET)
    _store_all(batch, updates)
    assert apply.apply_all(batch, secret_key=SECRET) == len(updates)
    _one_at_a_time(single, registrations + updates)
    written = _written_alike(batch, single, tag)
    assert [len(p["Address"]) for p in written] == [3, 2, 2, 2]


def test_mrn_look_ups_search_the_patient_index_on_sqlite(
    new_engine: Callable[[str], Engine],
) -> None:
    """A batch's MRN look-ups (known_keys, read_patients) must search the patients'
    (source_system, source_id) index: SQLite scanned it whole for a row-value IN, a cost
    that grew with the patients held. SQLite only (PostgreSQL plans by statistics)."""
    engine = new_engine("sqlite")
    seen: list[tuple[str, Any]] = []

    def log(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "FROM patient" in statement and "source_id IN" in statement:
            seen.append((statement, parameters))

    keys = {("hl7v2:TESTFAC", "M1"), ("hl7v2:TESTFAC", "M2"), ("hl7v2:OTHER", "M1")}
    with Session(engine) as session:
        bind = session.connection()
        event.listen(bind, "before_cursor_execute", log)
        assert known_keys(session, keys) == set()
        assert read_patients(session, keys) == dict.fromkeys(keys)
        event.remove(bind, "before_cursor_execute", log)
        assert len(seen) == 2
        for statement, parameters in seen:
            plan = [
                row[-1]
                for row in bind.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            assert any(step.startswith("SEARCH patient USING") for step in plan), plan
            assert not any(step.startswith("SCAN patient") for step in plan), plan
