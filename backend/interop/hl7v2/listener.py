"""The MLLP listener: 0x0B <message> 0x1C 0x0D frames in, one ACK frame out for each.

Frames may arrive split across reads or several in one read (the stream reader's
``readuntil`` handles both); bytes before a start block are noise and are skipped. Each
connection is served in order (a sender waits for the ACK before the next message).
Messages are stored by one writer in a worker thread: whatever arrived (on any
connection) while the previous group was being written goes into the next group, one
transaction with a savepoint per message, so a message's failure stays its own; every
ACK is sent only after its group committed (group commit: one commit for many senders
instead of one each), and a group's new and changed patients are matched in one pass.
Shutdown stops accepting, lets in-flight messages finish and be acknowledged, then
closes.

With ``ack_after="stored"`` a group only stores its messages (after the checks that
need no database, done before the write transaction begins) and a second process, the
applier (:mod:`backend.interop.hl7v2.applier`), applies them, in arrival order and in
batches (:mod:`backend.interop.hl7v2.apply`: one patient look-up per batch, new
patients inserted in bulk), on the machine's second CPU. A sender that runs more than
``MAX_WAITING`` messages ahead of it waits for its ACKs. Nothing acknowledged is lost:
a stop applies everything stored before it returns, and a start first applies what a
crash between an ACK and its apply left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.db import write_transaction
from backend.interop.hl7v2.ack import AckError, build_ack
from backend.interop.hl7v2.applier import Applier
from backend.interop.hl7v2.apply import apply_all
from backend.interop.hl7v2.models import MessageState
from backend.interop.hl7v2.parse import Hl7ContentError, parse
from backend.interop.hl7v2.store import (
    Incoming,
    Receipt,
    matching_together,
    prepare,
    receive,
    store_prepared,
    together_or_one_at_a_time,
)

logger = logging.getLogger(__name__)

START, END = b"\x0b", b"\x1c\x0d"
MAX_FRAME = 16 * 1024 * 1024
IDLE_SECONDS = 300.0
MAX_GROUP = 200
"""Messages per transaction at most: bounds how much one failed commit sends back as AR."""


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


def _decode(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        # HL7 before 2.8 defaults to ASCII and many senders use Latin-1; every byte
        # decodes there, so the message is kept instead of refused for its encoding.
        return payload.decode("latin-1")


def _prepared(text: str) -> Incoming | Exception:
    try:
        return prepare(text)
    except Exception as exc:  # this message's answer (AR), not the group's
        return exc


def _unavailable_ack(text: str) -> str:
    """AR for a message we could not store (the database is unreachable, say)."""
    try:
        header = parse(text).header
    except Hl7ContentError:
        header = None
    error = AckError("207", "", "cannot be processed now; resend later")
    return build_ack(header, "AR", error=error)


@dataclass(slots=True)
class _Pending:
    text: str
    done: asyncio.Future[Receipt]


AckAfter = Literal["applied", "stored"]
MAX_WAITING = 1000
"""Stored, unapplied messages at most: past it the listener stores no more until the
applier catches up, so a feed faster than the apply slows down to it instead of piling
up (its ACKs wait)."""
WAITING_POLL = 0.01
"""Seconds between two looks at the applier's count while the listener holds back."""


@dataclass
class Listener:
    """Serve MLLP on ``host:port`` and store every message through ``engine``.

    ``ack_after``: ``applied`` (the default) answers once the message is mapped into the
    record, so AA means the record holds it and AE / AR says every reason it does not.
    ``stored`` answers once the raw message is committed and has passed every check that
    needs no database (the ACK a sender waits for then costs a parse and one insert),
    and applies it right after, in arrival order; what only the database can find (an
    A40 whose prior patient is unknown here) makes the message a failed one in the
    error queue instead of an AE to the sender."""

    engine: Engine
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 2575
    on_receipt: Callable[[Receipt], None] | None = None
    ack_after: AckAfter = "applied"
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)
    _busy: set[asyncio.Task[None]] = field(default_factory=set)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _queue: asyncio.Queue[_Pending | None] | None = None
    _writer: asyncio.Task[None] | None = None
    _applier: Applier | None = None

    def _store_group(self, texts: list[str]) -> list[Receipt | Exception]:
        """Store messages in one transaction, each in its own savepoint; a message that
        fails gets its exception, the others are kept. If the commit fails, nothing is
        stored and every message gets the error. Their patients are matched together
        at the end; if that fails, the group is stored again matching per message."""
        # Acknowledging stored messages, what needs no database is done first, before
        # the write lock (on SQLite the applier process waits for it meanwhile).
        prepared: list[str | Incoming | Exception] = [
            _prepared(text) if self.ack_after == "stored" else text for text in texts
        ]
        return together_or_one_at_a_time(
            lambda together: self._store_group_once(prepared, together=together)
        )

    def _store_one(self, session: Session, item: str | Incoming) -> Receipt:
        if isinstance(item, Incoming):
            return store_prepared(session, item)
        return receive(session=session, text=item, secret_key=self.secret_key)

    def _store_group_once(
        self, items: list[str | Incoming | Exception], *, together: bool
    ) -> list[Receipt | Exception]:
        results: list[Receipt | Exception] = []
        try:
            with (
                self._writing(),
                write_transaction(self.engine) as session,
                matching_together(session, together=together),
            ):
                for item in items:
                    if isinstance(item, Exception):
                        results.append(item)
                        continue
                    try:
                        with session.begin_nested():
                            results.append(self._store_one(session, item))
                    except Exception as exc:  # this message's answer, not the group's
                        results.append(exc)
        except SQLAlchemyError as exc:
            return [exc] * len(items)
        return results

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """Held while writing, to hand SQLite's lock to and from the applier."""
        writing = self._applier.writing if self._applier is not None else None
        return writing or nullcontext()

    async def _hold_back(self) -> None:
        """Wait while the applier is ``MAX_WAITING`` messages behind."""
        # Polled: the count is the applier process's, no event of this loop can tell.
        while self._applier is not None and self._applier.waiting >= MAX_WAITING:  # noqa: ASYNC110
            await asyncio.sleep(WAITING_POLL)

    async def _write_groups(self) -> None:
        """The one writer: stores what arrived (its ACKs wait for that) and nudges the
        applier when a group left messages to apply. A None in the queue ends it."""
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            if first is None:
                return
            await self._hold_back()
            group = [first]
            while len(group) < MAX_GROUP and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    self._queue.put_nowait(None)  # after this group
                    break
                group.append(item)
            try:
                results = await asyncio.to_thread(self._store_group, [p.text for p in group])
            except asyncio.CancelledError:
                for pending in group:
                    pending.done.cancel()
                raise
            to_apply = 0
            for pending, result in zip(group, results, strict=True):
                if not isinstance(result, Exception):
                    to_apply += result.state is MessageState.RECEIVED and not result.duplicate
                if pending.done.done():
                    continue
                if isinstance(result, Exception):
                    pending.done.set_exception(result)
                else:
                    pending.done.set_result(result)
            if to_apply and self._applier is not None:
                self._applier.nudge(to_apply)

    def _start_writer(self) -> asyncio.Queue[_Pending | None]:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_groups())
        return self._queue

    async def _receipt(self, text: str) -> Receipt:
        queue = self._start_writer()
        done: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        await queue.put(_Pending(text, done))
        return await done

    async def handle(self, text: str) -> str:
        """The ACK for one message (AR when it could not be stored)."""
        try:
            receipt = await self._receipt(text)
        except SQLAlchemyError as exc:
            logger.error("hl7 message not stored: %s", type(exc).__name__)
            return _unavailable_ack(text)
        if self.on_receipt is not None:
            self.on_receipt(receipt)
        return receipt.ack

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while not self._stopping.is_set():
                try:
                    chunk = await asyncio.wait_for(reader.readuntil(END), IDLE_SECONDS)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    break
                except asyncio.LimitOverrunError:
                    logger.warning("hl7 frame over %d bytes; connection closed", MAX_FRAME)
                    too_large = AckError("207", "", "frame too large")
                    writer.write(frame(build_ack(None, "AR", error=too_large)))
                    break
                start = chunk.find(START)
                if start < 0:
                    continue  # noise without a start block: nothing to acknowledge
                payload = chunk[start + 1 : -len(END)]
                if task is not None:
                    self._busy.add(task)
                try:
                    ack = await self.handle(_decode(payload))
                    writer.write(frame(ack))
                    await writer.drain()
                finally:
                    if task is not None:
                        self._busy.discard(task)
        finally:
            # A shutdown cancels idle connections; ending here normally (not cancelled)
            # keeps asyncio's stream callback from logging the cancellation as an error.
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                writer.close()
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def start(self) -> int:
        """Start applying what a previous run stored and did not apply (acknowledged,
        then stopped), then bind and start accepting; returns the port (useful with
        port 0). Acknowledging ``stored`` messages, the applier process does that."""
        if self.ack_after == "stored":
            url = self.engine.url.render_as_string(hide_password=False)
            self._applier = Applier(url=url, secret_key=self.secret_key)
            self._applier.start()
            # What a crash left is applied before anything new is accepted (and the
            # process is up: a first burst is not acknowledged seconds ahead of the
            # apply while it imports).
            if not await asyncio.to_thread(self._applier.wait_ready):
                logger.error("hl7 applier not up yet; messages are stored meanwhile")
        else:
            await self._apply_left()
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_FRAME
        )
        sockets = self._server.sockets or ()
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        return self.port

    async def _apply_left(self) -> None:
        try:
            left = await asyncio.to_thread(apply_all, self.engine, secret_key=self.secret_key)
        except SQLAlchemyError as exc:
            # The database is down: listen anyway (senders get AR until it is back);
            # what is stored stays so, and is applied at the next start.
            logger.error("hl7 stored messages not applied: %s", type(exc).__name__)
            left = 0
        if left:
            logger.info("hl7: applied %d messages stored by a previous run", left)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, close idle connections, and give the ones handling a message
        ``grace`` seconds to store it and send its ACK."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        for task in self._connections - self._busy:
            task.cancel()
        pending = set(self._connections)
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        if self._writer is not None and self._queue is not None:
            await self._queue.put(None)
            await self._writer
            self._writer, self._queue = None, None
        if self._applier is not None:
            # Everything acknowledged is applied before the listener ends.
            await asyncio.to_thread(self._applier.stop)
            self._applier = None

    async def serve_until(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.stop()
