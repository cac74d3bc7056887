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
need no database) and the same writer applies them afterwards, in arrival order and in
batches (:mod:`backend.interop.hl7v2.apply`: one patient look-up per batch, new
patients inserted in bulk), between groups: see :class:`Listener`. Nothing
acknowledged is lost: a stop applies everything stored before it returns, and a start
first applies what a crash between an ACK and its apply left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from backend.db import write_transaction
from backend.interop.hl7v2.ack import AckError, build_ack
from backend.interop.hl7v2.apply import apply_batch
from backend.interop.hl7v2.models import MessageState
from backend.interop.hl7v2.parse import Hl7ContentError, parse
from backend.interop.hl7v2.store import (
    Receipt,
    matching_together,
    receive,
    received,
    store,
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
APPLY_BATCH = 50
"""Stored messages applied per transaction at most: between two batches the writer
stores and acknowledges what arrived meanwhile, so a backlog delays ACKs by one batch."""
PAUSE = 0.05
"""Seconds without a new message after which stored ones are applied: a sender waiting
for its ACK sends the next within milliseconds, so a burst is acknowledged first and
applied in batches (cheaper per message: one commit and one matcher pass for many),
while a trickle is applied 50 ms after it arrives. At 5 ms, a sender slowed a moment
(the GIL, a PostgreSQL commit) let a whole batch in ahead of its next ACK."""
APPLY_EVERY = 1.0
"""Seconds at most between two apply batches while messages keep arriving, so a
steady feed sees its messages applied within about a second plus one batch."""
MAX_WAITING = 1000
"""Stored, unapplied messages at most: past it each group stored waits for a batch."""


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

    def _store_one(self, session: Session, text: str) -> Receipt:
        if self.ack_after == "stored":
            return store(session=session, text=text)
        return receive(session=session, text=text, secret_key=self.secret_key)

    def _store_group(self, texts: list[str]) -> list[Receipt | Exception]:
        """Store messages in one transaction, each in its own savepoint; a message that
        fails gets its exception, the others are kept. If the commit fails, nothing is
        stored and every message gets the error. Their patients are matched together
        at the end; if that fails, the group is stored again matching per message."""
        return together_or_one_at_a_time(
            lambda together: self._store_group_once(texts, together=together)
        )

    def _store_group_once(self, texts: list[str], *, together: bool) -> list[Receipt | Exception]:
        results: list[Receipt | Exception] = []
        try:
            with (
                write_transaction(self.engine) as session,
                matching_together(session, together=together),
            ):
                for text in texts:
                    try:
                        with session.begin_nested():
                            results.append(self._store_one(session, text))
                    except Exception as exc:  # this message's answer, not the group's
                        results.append(exc)
        except SQLAlchemyError as exc:
            return [exc] * len(texts)
        return results

    def apply_stored(self, limit: int = APPLY_BATCH) -> int:
        """Apply up to ``limit`` stored messages, oldest first, in one transaction (a
        savepoint each, so a failure stays that message's), their patients matched
        together at the end (per message if that fails); returns how many."""
        return together_or_one_at_a_time(
            lambda together: self._apply_stored_once(limit, together=together)
        )

    def _apply_stored_once(self, limit: int, *, together: bool) -> int:
        with write_transaction(self.engine) as session:
            # Locked (a retry may be processing one of them), and read in one query.
            rows = received(session, limit=limit)
            with matching_together(session, together=together):
                # No savepoint per message here: processing has one (a failure there is
                # the message's), and what escapes it (the database down) ends the batch.
                apply_batch(session=session, rows=rows, secret_key=self.secret_key)
        return len(rows)

    def apply_all_stored(self) -> int:
        """Apply every stored message (what a previous run acknowledged and left)."""
        total = 0
        while applied := self.apply_stored():
            total += applied
        return total

    async def _write_groups(self) -> None:
        """The one database writer: stores what arrived (its ACKs wait for that), and
        applies stored messages a batch at a time when the feed pauses, at least every
        ``APPLY_EVERY`` seconds, and before storing more once ``MAX_WAITING`` wait (so a
        feed faster than the apply slows down to it instead of piling up). A None in
        the queue asks it to apply what is left and end."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        waiting, last_apply = 0, loop.time()
        while True:
            first: _Pending | None
            due = waiting >= MAX_WAITING or loop.time() - last_apply >= APPLY_EVERY
            if waiting and not due:
                try:
                    first = await asyncio.wait_for(self._queue.get(), PAUSE)
                except TimeoutError:
                    due = True
            elif not waiting:
                first = await self._queue.get()
            if waiting and due:
                try:
                    applied = await asyncio.to_thread(self.apply_stored)
                    waiting = max(waiting - applied, 1) if applied == APPLY_BATCH else 0
                except Exception as exc:  # the writer must live on: it stores the ACKs
                    # The messages stay stored: the next message stored (or the next
                    # start) tries again; retrying at once would only delay the ACKs.
                    logger.error("hl7 stored messages not applied: %s", type(exc).__name__)
                    waiting = 0
                last_apply = loop.time()
                continue
            if first is None:
                await asyncio.to_thread(self.apply_all_stored)
                return
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
            for pending, result in zip(group, results, strict=True):
                if pending.done.done():
                    continue
                if isinstance(result, Exception):
                    pending.done.set_exception(result)
                else:
                    waiting += result.state is MessageState.RECEIVED
                    pending.done.set_result(result)

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
        """Apply what a previous run stored and did not apply (acknowledged, then
        stopped), then bind and start accepting; returns the port (useful with port 0)."""
        try:
            left = await asyncio.to_thread(self.apply_all_stored)
        except SQLAlchemyError as exc:
            # The database is down: listen anyway (senders get AR until it is back);
            # what is stored stays so, and is applied with the next message stored.
            logger.error("hl7 stored messages not applied: %s", type(exc).__name__)
            left = 0
        if left:
            logger.info("hl7: applied %d messages stored by a previous run", left)
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_FRAME
        )
        sockets = self._server.sockets or ()
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        return self.port

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
            # Everything acknowledged is applied before the listener ends.
            await self._queue.put(None)
            try:
                await self._writer
            except SQLAlchemyError as exc:  # left stored: the next start applies it
                logger.error("hl7 stored messages not applied: %s", type(exc).__name__)
            self._writer, self._queue = None, None

    async def serve_until(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.stop()
