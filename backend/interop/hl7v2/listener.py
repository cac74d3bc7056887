"""The MLLP listener: 0x0B <message> 0x1C 0x0D frames in, one ACK frame out for each.

Frames may arrive split across reads or several in one read (the stream reader's
``readuntil`` handles both); bytes before a start block are noise and are skipped. Each
connection is served in order (a sender waits for the ACK before the next message).
Messages are stored by one writer in a worker thread: whatever arrived (on any
connection) while the previous group was being written goes into the next group, one
transaction with a savepoint per message, so a message's failure stays its own; every
ACK is sent only after its group committed (group commit: one commit for many senders
instead of one each). Shutdown stops accepting, lets in-flight messages finish and be
acknowledged, then closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.db import write_transaction
from backend.interop.hl7v2.ack import AckError, build_ack
from backend.interop.hl7v2.parse import Hl7ContentError, parse
from backend.interop.hl7v2.store import Receipt, receive

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


@dataclass
class Listener:
    """Serve MLLP on ``host:port`` and store every message through ``engine``."""

    engine: Engine
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 2575
    on_receipt: Callable[[Receipt], None] | None = None
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)
    _busy: set[asyncio.Task[None]] = field(default_factory=set)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _queue: asyncio.Queue[_Pending] | None = None
    _writer: asyncio.Task[None] | None = None

    def _store_group(self, texts: list[str]) -> list[Receipt | Exception]:
        """Store messages in one transaction, each in its own savepoint; a message that
        fails gets its exception, the others are kept. If the commit fails, nothing is
        stored and every message gets the error."""
        results: list[Receipt | Exception] = []
        try:
            with write_transaction(self.engine) as session:
                for text in texts:
                    try:
                        with session.begin_nested():
                            results.append(
                                receive(session=session, text=text, secret_key=self.secret_key)
                            )
                    except Exception as exc:  # this message's answer, not the group's
                        results.append(exc)
        except SQLAlchemyError as exc:
            return [exc] * len(texts)
        return results

    async def _write_groups(self) -> None:
        assert self._queue is not None
        while True:
            group = [await self._queue.get()]
            while len(group) < MAX_GROUP and not self._queue.empty():
                group.append(self._queue.get_nowait())
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
                    pending.done.set_result(result)

    async def _receipt(self, text: str) -> Receipt:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._writer = asyncio.create_task(self._write_groups())
        done: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(text, done))
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
        """Bind and start accepting; returns the port (useful with port 0)."""
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
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer, self._queue = None, None

    async def serve_until(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.stop()
