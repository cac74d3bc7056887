"""Every public sample message through the MLLP listener over a real TCP socket, plus
framing edge cases, a database that is down, and a graceful shutdown."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import Engine, func, select

from backend.db import make_engine
from backend.interop.hl7v2.handlers import HANDLERS
from backend.interop.hl7v2.listener import END, START, Listener
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.parse import Header, digest, normalize, parse
from backend.patients.models import Patient
from tests.interop.hl7v2.conftest import (
    SECRET,
    MllpClient,
    err_segment,
    fixture_messages,
    in_thread,
    msa,
    serving,
)


def adt_a04(mrn: str, control: str, family: str = "TESTER", birth: str = "19800102") -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|TESTAPP|TESTFAC|P360|CLINIC|20240105101500||ADT^A04|{control}|P|2.5.1",
            "EVN|A04|20240105101500",
            f"PID|1||{mrn}^^^TESTFAC^MR||{family}^ANNA^M||{birth}|F|||"
            "1 MAIN ST^^SPRINGFIELD^IL^62701^USA||(217)555-0100",
        ]
    )


def test_every_fixture_is_acknowledged_and_recorded(feed_engine: Engine) -> None:
    messages = fixture_messages()
    assert len(messages) >= 77

    async def scenario() -> list[tuple[str, Header, str, str]]:
        outcomes: list[tuple[str, Header, str, str]] = []
        async with serving(feed_engine) as (_, client):
            for name, n, message in messages:
                # Real feeds separate segments with CR; the files use LF. Send both.
                wire = normalize(message) if n % 2 or len(outcomes) % 2 else message
                ack = await client.send(wire)
                header = parse(message).header
                fields = msa(ack)
                assert fields[2] == header.control_id, name
                outcomes.append((name, header, fields[1], ack))
        return outcomes

    outcomes = in_thread(scenario)
    with feed_engine.connect() as conn:
        for name, header, code, ack in outcomes:
            normalized = normalize(next(m for f, _, m in messages if f == name))
            row = conn.execute(
                select(Hl7Message).where(
                    Hl7Message.source == header.source,
                    Hl7Message.control_id == header.control_id,
                    Hl7Message.digest == digest(normalized),
                )
            ).one()
            handled = (header.message_code, header.trigger) in HANDLERS
            if handled and header.trigger != "A40":
                assert (code, row.state) == ("AA", MessageState.PROCESSED), (name, row.error_detail)
            elif header.trigger == "A40":
                # The fixture's prior patient (MRG-1) is known nowhere: a content error.
                assert (code, row.state, row.error_code) == (
                    "AE",
                    MessageState.FAILED,
                    "content_error",
                ), row.error_detail
            else:
                assert (code, row.state) == ("AR", MessageState.REJECTED), name
                assert row.error_code in {"unsupported_type", "unsupported_event"}
                assert header.message_type in row.error_detail
                assert err_segment(ack) is not None
            assert row.raw == normalized  # stored raw, whatever the outcome: no silent drop


def test_framing_partial_several_and_noise(feed_engine: Engine) -> None:
    tag = uuid.uuid4().hex[:8]
    first, second, third = (adt_a04(f"F{tag}{i}", f"F{tag}{i}") for i in range(3))
    payload = START + first.encode() + END

    async def scenario() -> list[list[str]]:
        async with serving(feed_engine) as (_, client):
            # One frame dribbled chunk by chunk across many reads.
            for i in range(0, len(payload), 7):
                client.writer.write(payload[i : i + 7])
                await client.writer.drain()
                await asyncio.sleep(0.001)
            acks = [msa(await client.read_ack())[1:3]]
            # Two frames in one write (CRLF inside one), noise before the second.
            client.writer.write(
                START
                + second.replace("\r", "\r\n").encode()
                + END
                + b"junk\r\n"
                + START
                + third.encode()
                + END
            )
            await client.writer.drain()
            acks.append(msa(await client.read_ack())[1:3])
            acks.append(msa(await client.read_ack())[1:3])
        return acks

    assert in_thread(scenario) == [["AA", f"F{tag}{i}"] for i in range(3)]
    with feed_engine.connect() as conn:
        found = conn.execute(
            select(func.count()).select_from(Patient).where(Patient.source_id.like(f"F{tag}%"))
        ).scalar_one()
    assert found == 3


def test_garbage_in_a_frame_gets_ae_and_is_kept(feed_engine: Engine) -> None:
    async def scenario() -> str:
        async with serving(feed_engine) as (_, client):
            return await client.send(f"this is not HL7 {uuid.uuid4().hex}")

    ack = in_thread(scenario)
    assert msa(ack)[1] == "AE"
    assert "MSH" in (err_segment(ack) or "")
    with feed_engine.connect() as conn:
        row = conn.execute(
            select(Hl7Message)
            .where(Hl7Message.error_code == "not_hl7")
            .order_by(Hl7Message.received_at.desc())
        ).first()
    assert row is not None
    assert row.state == MessageState.FAILED


def test_database_down_answers_ar() -> None:
    engine = make_engine("postgresql://nobody:x@127.0.0.1:1/none", pool_pre_ping=False)

    async def scenario() -> str:
        async with serving(engine) as (_, client):
            return await client.send(adt_a04("DOWN1", "DOWN1"))

    try:
        ack = in_thread(scenario)
    finally:
        engine.dispose()
    assert msa(ack)[1:3] == ["AR", "DOWN1"]
    assert "resend" in (err_segment(ack) or "")


def test_graceful_shutdown_finishes_the_message_in_flight(feed_engine: Engine) -> None:
    tag = uuid.uuid4().hex[:8]

    async def scenario() -> tuple[str, bytes, bool]:
        server = Listener(engine=feed_engine, secret_key=SECRET, port=0)
        await server.start()
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", server.port)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(START + adt_a04(f"S{tag}", f"S{tag}").encode() + END)
        await writer.drain()
        await asyncio.sleep(0.01)  # the message is being stored when the stop comes
        await server.stop()
        ack = await MllpClient(reader, writer).read_ack()
        idle = await idle_reader.read()
        idle_writer.close()
        writer.close()
        try:
            await asyncio.open_connection("127.0.0.1", server.port)
            accepting = True
        except OSError:
            accepting = False
        return ack, idle, accepting

    ack, idle, accepting = in_thread(scenario)
    assert msa(ack)[1:3] == ["AA", f"S{tag}"]
    assert idle == b""  # the idle connection was closed
    assert not accepting


def test_concurrent_senders_share_commits_and_each_message_keeps_its_own_outcome(
    feed_engine: Engine,
) -> None:
    """Four connections at once: messages that wait together are stored in one
    transaction, yet a bad message gets its own AE, a resend its first ACK, and every
    good message its AA and its patient."""
    tag = uuid.uuid4().hex[:8]
    per_connection = 6

    async def one_sender(port: int, c: int) -> list[list[str]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = MllpClient(reader, writer)
        acks = []
        for n in range(per_connection):
            control = f"G{tag}{c}{n}"
            birth = "bad" if (c, n) == (2, 3) else "19800102"
            acks.append(msa(await client.send(adt_a04(control, control, birth=birth)))[1:3])
        again = adt_a04(f"G{tag}{c}0", f"G{tag}{c}0")
        acks.append(msa(await client.send(again))[1:3])
        await client.close()
        return acks

    async def scenario() -> list[list[list[str]]]:
        server = Listener(engine=feed_engine, secret_key=SECRET, port=0)
        port = await server.start()
        try:
            return list(await asyncio.gather(*(one_sender(port, c) for c in range(4))))
        finally:
            await server.stop()

    results = in_thread(scenario)
    for c, acks in enumerate(results):
        expected = [
            ["AE" if (c, n) == (2, 3) else "AA", f"G{tag}{c}{n}"] for n in range(per_connection)
        ]
        assert acks == [*expected, ["AA", f"G{tag}{c}0"]]
    with feed_engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(Patient).where(Patient.source_id.like(f"G{tag}%"))
        ).scalar_one()
        failed = conn.execute(
            select(func.count())
            .select_from(Hl7Message)
            .where(Hl7Message.control_id == f"G{tag}23", Hl7Message.state == MessageState.FAILED)
        ).scalar_one()
    assert stored == 4 * per_connection - 1
    assert failed == 1
