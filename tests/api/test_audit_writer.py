"""Group commit of audit events: many requests, few transactions, an intact chain, and
one failing request does not withhold the others' pages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction, AuditEvent
from backend.api.audit_writer import AuditWriter
from backend.db import async_session_factory, make_async_engine, transaction


def _append(request_id: str) -> Callable[[Session], None]:
    def work(session: Session) -> None:
        audit.record(
            session=session,
            principal=None,
            action=AuditAction.READ,
            record_types=["Patient"],
            request_id=request_id,
            actor_username="writer-test",
        )

    return work


def _events(engine: Engine, request_ids: set[str]) -> int:
    with transaction(engine) as session:
        return (
            session.scalar(
                select(func.count()).where(AuditEvent.request_id.in_(sorted(request_ids)))
            )
            or 0
        )


async def test_concurrent_requests_share_transactions_and_keep_the_chain(
    engine: Engine, db_url: str
) -> None:
    async_engine = make_async_engine(db_url)
    writer = AuditWriter(async_session_factory(async_engine))
    commits = [0]

    def counted(_conn: object) -> None:
        commits[0] += 1

    event.listen(async_engine.sync_engine, "commit", counted)
    ids = {f"w{uuid.uuid4().hex[:12]}" for _ in range(40)}
    try:
        await asyncio.gather(*(writer.write(_append(rid)) for rid in ids))
    finally:
        await writer.close()
        await async_engine.dispose()
    assert _events(engine, ids) == 40
    assert 1 <= commits[0] < 40  # batched: the first alone, the rest piled up behind it
    with transaction(engine) as session:
        assert audit.verify(session).ok


async def test_a_failing_request_fails_alone(engine: Engine, db_url: str) -> None:
    async_engine = make_async_engine(db_url)
    writer = AuditWriter(async_session_factory(async_engine))

    def broken(session: Session) -> None:
        audit.record(
            session=session,
            principal=None,
            action=AuditAction.READ,
            record_types=["not a name; a value"],  # refused: looks like data
        )

    ids = {f"f{uuid.uuid4().hex[:12]}" for _ in range(10)}
    try:
        results = await asyncio.gather(
            writer.write(broken),
            *(writer.write(_append(rid)) for rid in ids),
            return_exceptions=True,
        )
    finally:
        await writer.close()
        await async_engine.dispose()
    assert isinstance(results[0], audit.AuditValueError)
    assert results[1:] == [None] * 10
    assert _events(engine, ids) == 10
    with transaction(engine) as session:
        assert audit.verify(session).ok
