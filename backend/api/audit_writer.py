"""Group commit for the audit events of concurrent requests.

Every audited read appends to the hash-chained trail, and an append locks the chain head
(PostgreSQL: its row; SQLite: the whole database's write lock). One transaction per
request made 50 concurrent portal pages queue for that lock one commit at a time, and on
SQLite some waited past the busy timeout and were refused (``docs/performance.md``).

Here one writer task per event loop takes whatever requests are waiting, appends all
their events in one transaction (the head is locked once, the chain stays in one order)
and commits once. No timer: a batch is what piled up while the previous one committed,
so a lone request is written at once. A request still waits for its own batch's commit,
so a page is never shown unaudited; if the batch fails, each of its requests is retried
alone, so one bad request cannot withhold the others' pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

MAX_BATCH = 200  # requests per transaction: bounds one commit's size and lock time


@dataclass(frozen=True, slots=True)
class _Job:
    work: Callable[[Session], object]
    done: asyncio.Future[None]


class AuditWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None

    async def write(self, work: Callable[[Session], object]) -> None:
        """Run ``work`` (it appends audit events) in a transaction shared with other
        waiting requests; returns once that transaction has committed, raises if the
        events could not be written."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            # First use on this loop (the app's, or a test client's), or the task ended.
            self._loop, self._queue = loop, asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue), name="audit-writer")
        assert self._queue is not None
        job = _Job(work, loop.create_future())
        self._queue.put_nowait(job)
        await job.done

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0], exc)
                    continue
                logger.warning(
                    "audit batch of %d failed (%s); writing each alone",
                    len(batch),
                    type(exc).__name__,
                )
                for job in batch:
                    try:
                        await self._commit([job])
                    except Exception as alone:
                        _settle(job, alone)
                    else:
                        _settle(job, None)
            else:
                for job in batch:
                    _settle(job, None)

    async def _commit(self, batch: list[_Job]) -> None:
        def run_all(session: Session) -> None:
            for job in batch:
                job.work(session)

        async with self._sessions() as session, session.begin():
            await session.run_sync(run_all)


async def write_audit(state: Any, work: Callable[[Session], object]) -> None:
    """Run ``work`` (it appends audit events) through the app's group-commit writer
    (``state`` is ``app.state``); apps built without one (tests and benchmarks that make
    the state themselves) get a transaction of their own."""
    writer: AuditWriter | None = getattr(state, "audit_writer", None)
    if writer is not None:
        await writer.write(work)
        return
    sessions: async_sessionmaker[AsyncSession] = state.sessions
    async with sessions() as session, session.begin():
        await session.run_sync(work)


def _settle(job: _Job, error: Exception | None) -> None:
    if job.done.done():  # the request was cancelled meanwhile
        return
    if error is None:
        job.done.set_result(None)
    else:
        job.done.set_exception(error)
