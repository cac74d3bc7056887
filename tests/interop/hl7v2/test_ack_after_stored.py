"""``ack_after="stored"``: AA once the raw message is stored and passed every check that
needs no database, applied right after in arrival order; the same AE / AR as applied
mode for wrong content; nothing acknowledged is lost across a stop or a crash."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.db import write_transaction
from backend.interop.hl7v2 import listener as listener_module
from backend.interop.hl7v2.handlers import CHECKS, HANDLERS
from backend.interop.hl7v2.listener import Listener
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.parse import normalize, parse
from backend.interop.hl7v2.store import receive, store
from backend.journey.models import Admission, AdmissionStatus
from backend.patients.models import Patient
from tests.interop.hl7v2.conftest import (
    SECRET,
    MllpClient,
    err_segment,
    fixture_messages,
    fixture_text,
    in_thread,
    msa,
)
from tests.interop.hl7v2.test_listener import adt_a04


def _adt(trigger: str, mrn: str, control: str, *, family: str = "TESTER", pv1: bool = True) -> str:
    lines = [
        f"MSH|^~\\&|TESTAPP|TESTFAC|P360|CLINIC|20240105101500||ADT^{trigger}|{control}|P|2.5.1",
        f"EVN|{trigger}|20240105101500",
        f"PID|1||{mrn}^^^TESTFAC^MR||{family}^ANNA^M||19800102|F",
    ]
    if pv1:
        lines.append(f"PV1|1|I|WARD^1^1||||||||||||||||V{mrn}|||||||||||||||||||||||||20240105|")
    return "\r".join(lines)


def _without(message: str, segment: str) -> str:
    return "\r".join(s for s in normalize(message).split("\r") if not s.startswith(segment + "|"))


def _replace_field(message: str, segment: str, field_no: int, value: str) -> str:
    lines = normalize(message).split("\r")
    for i, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|")
            # MSH-1 is the separator itself: MSH field n is at index n - 1.
            index = field_no - 1 if segment == "MSH" else field_no
            fields += [""] * (index + 1 - len(fields))
            fields[index] = value
            lines[i] = "|".join(fields)
            break
    return "\r".join(lines)


def _broken() -> list[tuple[str, str]]:
    """(name, message) of messages each wrong in one way the checks must catch."""
    a04 = adt_a04("BROKEN", "BROKEN")
    oru, siu, mdm = (
        fixture_text(f) for f in ("ORU-R01-01.hl7", "SIU-S12-01.hl7", "MDM-T02-01.hl7")
    )
    a40 = fixture_text("ADT-A40-01.hl7")
    return [
        ("not hl7", "hello"),
        ("no control id", _replace_field(a04, "MSH", 10, "")),
        ("old version", _replace_field(a04, "MSH", 12, "2.1")),
        ("unknown type", _replace_field(a04, "MSH", 9, "ZZZ^Z01")),
        ("unknown event", _replace_field(a04, "MSH", 9, "ADT^A99")),
        ("no PID", _without(a04, "PID")),
        ("no MRN", _replace_field(a04, "PID", 3, "")),
        ("no name", _replace_field(a04, "PID", 5, "")),
        ("bad birth date", _replace_field(a04, "PID", 7, "19XX0230")),
        ("A01 without PV1", _adt("A01", "NOPV1", "NOPV1", pv1=False)),
        ("A03 without PV1", _adt("A03", "NOPV1", "NOPV1b", pv1=False)),
        ("A03 bad discharge time", _replace_field(_adt("A03", "BADT", "BADT"), "PV1", 45, "X")),
        ("A40 without MRG", _without(a40, "MRG")),
        ("A40 without MRG-1", _replace_field(a40, "MRG", 1, "")),
        ("SIU without SCH", _without(siu, "SCH")),
        ("SIU without an id", _replace_field(_replace_field(siu, "SCH", 1, ""), "SCH", 2, "")),
        ("SIU without a start", _without(_without(_without(siu, "TQ1"), "AIS"), "SCH")),
        ("MDM without TXA", _without(mdm, "TXA")),
        ("ORU without OBR-4", _replace_field(oru, "OBR", 4, "")),
        ("ORU NM not a number", _replace_field(_replace_field(oru, "OBX", 2, "NM"), "OBX", 5, "x")),
    ]


def _without_msh(ack: str) -> list[str]:
    return ack.split("\r")[1:]  # MSH carries this ACK's own id and time


def test_every_handler_has_its_checks() -> None:
    assert CHECKS.keys() == HANDLERS.keys()


@pytest.mark.parametrize(("name", "message"), _broken(), ids=[n for n, _ in _broken()])
def test_stored_mode_refuses_wrong_content_as_applied_mode_does(
    session: Session, name: str, message: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    # Distinct senders: the two modes must not see each other's row as a resend.
    applied_text = message.replace("TESTAPP", f"A{tag}", 1)
    stored_text = message.replace("TESTAPP", f"S{tag}", 1)
    if "TESTAPP" not in message:
        applied_text, stored_text = message + f"\rZZZ|A{tag}", message + f"\rZZZ|S{tag}"
    applied = receive(session=session, text=applied_text, secret_key=SECRET)
    stored = store(session=session, text=stored_text)
    assert applied.ack_code in {"AE", "AR"}, (name, applied.error_detail)
    assert (stored.ack_code, stored.state, stored.error_code, stored.error_detail) == (
        applied.ack_code,
        applied.state,
        applied.error_code,
        applied.error_detail,
    ), name
    assert _without_msh(stored.ack) == _without_msh(applied.ack)
    assert err_segment(stored.ack) is not None


def test_a_stored_message_gets_the_ack_a_processed_one_gets(session: Session) -> None:
    tag = uuid.uuid4().hex[:8]
    stored = store(session=session, text=adt_a04(f"K{tag}", f"K{tag}"))
    processed = receive(session=session, text=adt_a04(f"L{tag}", f"K{tag}"), secret_key=SECRET)
    assert (stored.ack_code, stored.state) == ("AA", MessageState.RECEIVED)
    assert _without_msh(stored.ack) == _without_msh(processed.ack)
    again = store(session=session, text=adt_a04(f"K{tag}", f"K{tag}"))
    assert again.duplicate
    assert again.ack == stored.ack


async def _send_all(listener: Listener, messages: list[str]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    client = MllpClient(reader, writer)
    try:
        return [await client.send(m) for m in messages]
    finally:
        await client.close()


@asynccontextmanager
async def _stored_listener(engine: Engine) -> AsyncIterator[Listener]:
    """A started listener acknowledging stored messages; its stop (everything applied)
    when the block ends."""
    listener = Listener(engine=engine, secret_key=SECRET, port=0, ack_after="stored")
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


def _send_to_stored(engine: Engine, messages: list[str]) -> list[str]:
    """The ACKs of ``messages`` sent one after another to a stored-mode listener,
    returned once it stopped, so every message is applied."""

    async def scenario() -> list[str]:
        async with _stored_listener(engine) as listener:
            return await _send_all(listener, messages)

    return in_thread(scenario)


def _row(engine: Engine, control: str) -> Hl7Message:
    with engine.connect() as conn:
        row = conn.execute(select(Hl7Message).where(Hl7Message.control_id == control)).one()
    return Hl7Message(**row._asdict())


def test_stored_mode_applies_in_arrival_order_and_stop_finishes(feed_engine: Engine) -> None:
    """A04, A08, A01, A03 for one patient, sent back to back: each AA comes before it is
    applied, yet the record ends as if applied one by one; stop waits for the applier."""
    tag = uuid.uuid4().hex[:8]
    mrn = f"O{tag}"
    messages = [
        _adt("A04", mrn, f"{tag}-1", family="FIRST", pv1=False),
        _adt("A08", mrn, f"{tag}-2", family="SECOND", pv1=False),
        _adt("A01", mrn, f"{tag}-3", family="THIRD"),
        _adt("A03", mrn, f"{tag}-4", family="FOURTH"),
    ]

    acks = _send_to_stored(feed_engine, messages)
    assert [msa(a)[1:3] for a in acks] == [["AA", f"{tag}-{n}"] for n in range(1, 5)]
    with Session(feed_engine) as session:
        rows = session.scalars(
            select(Hl7Message).where(Hl7Message.control_id.like(f"{tag}-%"))
        ).all()
        assert {r.state for r in rows} == {MessageState.PROCESSED}, [r.error_detail for r in rows]
        # The ACK kept is the one the sender got.
        assert sorted(r.ack or "" for r in rows) == sorted(acks)
        patient = session.scalars(select(Patient).where(Patient.source_id == mrn)).one()
        assert patient.family_name == "FOURTH"
        admission = session.scalars(
            select(Admission).where(Admission.patient_id == patient.id)
        ).one()
        assert admission.status is AdmissionStatus.FINISHED


def test_a_merge_of_an_unknown_patient_is_acknowledged_then_queued(feed_engine: Engine) -> None:
    """What only the database can find (the A40's prior patient unknown) is AA in
    stored mode and a failed message in the error queue, not an AE."""
    tag = uuid.uuid4().hex[:8]
    a40 = fixture_text("ADT-A40-01.hl7")
    header = parse(a40).header
    message = _replace_field(a40, "MSH", 10, f"M{tag}")

    (ack,) = _send_to_stored(feed_engine, [message])
    assert msa(ack)[1:3] == ["AA", f"M{tag}"]
    row = _row(feed_engine, f"M{tag}")
    assert (row.state, row.error_code, row.ack_code) == (
        MessageState.FAILED,
        "content_error",
        "AE",
    )
    assert row.error_detail == "MRG-1: the prior patient is not known here"
    assert header.message_type == "ADT^A40"


def test_every_fixture_ends_as_in_applied_mode(feed_engine: Engine) -> None:
    """The public samples through a stored-mode listener: processed, failed or rejected
    as applied mode leaves them, with the A40 (unknown prior patient) as the one
    acknowledged AA and queued."""
    tag = uuid.uuid4().hex[:8]
    messages = [
        _replace_field(m, "MSH", 10, f"{tag}{i}") for i, (_, _, m) in enumerate(fixture_messages())
    ]

    acks = _send_to_stored(feed_engine, messages)
    for i, (message, ack) in enumerate(zip(messages, acks, strict=True)):
        header = parse(message).header
        row = _row(feed_engine, f"{tag}{i}")
        handled = (header.message_code, header.trigger) in HANDLERS
        if handled:
            assert msa(ack)[1] == "AA", (header.message_type, err_segment(ack))
            expected = MessageState.FAILED if header.trigger == "A40" else MessageState.PROCESSED
            assert row.state is expected, (header.message_type, row.error_detail)
        else:
            assert msa(ack)[1] == "AR"
            assert row.state is MessageState.REJECTED


def test_messages_a_crash_left_stored_are_applied_first_on_start(feed_engine: Engine) -> None:
    """A crash between the ACK and the apply leaves messages ``received``: the next
    listener applies them before it accepts anything, in their order, then goes on."""
    tag = uuid.uuid4().hex[:8]
    mrn = f"C{tag}"
    with write_transaction(feed_engine) as session:  # what the writer commits before AA
        for n, text in enumerate(
            [_adt("A04", mrn, f"{tag}-1", pv1=False), _adt("A01", mrn, f"{tag}-2")], start=1
        ):
            assert store(session=session, text=text).ack_code == "AA", n
    assert _row(feed_engine, f"{tag}-1").state is MessageState.RECEIVED
    later = _adt("A03", mrn, f"{tag}-3")

    async def scenario() -> tuple[MessageState, MessageState, list[str]]:
        async with _stored_listener(feed_engine) as listener:
            states = (_row(feed_engine, f"{tag}-1").state, _row(feed_engine, f"{tag}-2").state)
            acks = await _send_all(listener, [later])
        return (*states, acks)

    first, second, acks = in_thread(scenario)
    assert (first, second) == (MessageState.PROCESSED, MessageState.PROCESSED)
    assert msa(acks[0])[1] == "AA"
    assert _row(feed_engine, f"{tag}-3").state is MessageState.PROCESSED
    with Session(feed_engine) as session:
        patient = session.scalars(select(Patient).where(Patient.source_id == mrn)).one()
        admission = session.scalars(
            select(Admission).where(Admission.patient_id == patient.id)
        ).one()
        assert admission.status is AdmissionStatus.FINISHED


def _processed(engine: Engine, control: str) -> None:
    """Wait until the message is processed (30 s at most)."""
    deadline = time.monotonic() + 30
    while _row(engine, control).state is not MessageState.PROCESSED:
        assert time.monotonic() < deadline, f"{control} was never processed"
        time.sleep(0.05)


def test_stored_messages_are_applied_while_the_listener_runs(feed_engine: Engine) -> None:
    """The applier process applies as messages arrive, not only at the stop; one that
    died (killed, say) is started again by the next message stored, which it applies,
    and the count of messages waiting comes back to zero."""
    tag = uuid.uuid4().hex[:8]

    async def scenario() -> None:
        async with _stored_listener(feed_engine) as listener:
            await _send_all(listener, [_adt("A04", f"R{tag}", f"{tag}-1", pv1=False)])
            await asyncio.to_thread(_processed, feed_engine, f"{tag}-1")
            assert listener._applier is not None
            process = listener._applier._process
            assert process is not None
            process.kill()
            await asyncio.to_thread(process.join)
            await _send_all(listener, [_adt("A01", f"R{tag}", f"{tag}-2")])
            await asyncio.to_thread(_processed, feed_engine, f"{tag}-2")
            assert listener._applier._process is not process
            # The new process applied it before its first batch, yet the counts agree
            # again: nothing is left looking like it waits.
            deadline = time.monotonic() + 30
            while listener._applier.waiting:
                assert time.monotonic() < deadline, "the count says a message still waits"
                await asyncio.sleep(0.05)

    in_thread(scenario)


def test_a_sender_far_ahead_of_the_applier_is_held_back(
    feed_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With at most one message waiting to be applied, every ACK of a burst waits for
    the one before to be applied: nothing piles up, nothing is lost or reordered."""
    monkeypatch.setattr(listener_module, "MAX_WAITING", 1)
    tag = uuid.uuid4().hex[:8]
    messages = [_adt("A04", f"H{tag}{n}", f"{tag}-{n}", pv1=False) for n in range(6)]
    waiting_seen: list[int] = []

    async def scenario() -> list[str]:
        acks = []
        async with _stored_listener(feed_engine) as listener:
            for message in messages:
                acks += await _send_all(listener, [message])
                assert listener._applier is not None
                waiting_seen.append(listener._applier.waiting)
        return acks

    acks = in_thread(scenario)
    assert [msa(a)[1] for a in acks] == ["AA"] * 6
    assert max(waiting_seen) <= 1
    for n in range(6):
        assert _row(feed_engine, f"{tag}-{n}").state is MessageState.PROCESSED
