"""Receive, store, process and retry HL7 v2 messages; the error queue's engine room.

:func:`receive` is what the MLLP listener and the file importer call, inside the
caller's transaction: the raw message is stored first, then processed inside a
SAVEPOINT, so a message whose processing fails is still stored (state ``failed``, in
the error queue) while nothing it half-wrote survives. If the database itself fails,
the exception propagates, the transaction rolls back, and the transport answers AR:
nothing was stored, so the sender must resend.

:func:`store` is the first half for a listener that acknowledges once stored: every
check that needs no database (:func:`check`), then the raw message with its answer in
one INSERT (state ``received``); :func:`apply_stored` is the second half, later.
Inside :func:`matching_together`, the patients of many messages are matched in one
pass at the end instead of one matcher round per message.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, Table, TextClause, bindparam, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, make_transient_to_detached

import backend.models  # noqa: F401  (every table: the records written link to others)
from backend.common.errors import Conflict, NotFound
from backend.common.mixins import utcnow
from backend.interop.hl7v2.ack import AckError, build_ack
from backend.interop.hl7v2.handlers import CHECKS, HANDLERS, MESSAGE_CODES
from backend.interop.hl7v2.handlers.common import (
    CREATED_KEY,
    UPSERTED_KEY,
    MessageContext,
    forget_children,
)
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.parse import Header, Hl7ContentError, Parsed, digest, normalize, parse
from backend.mpi.hooks import patients_changed
from backend.mpi.records import Loaded

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RAW = 16 * 1024 * 1024  # the listener refuses bigger frames before they get here


class RetryRefused(Conflict):
    """The message cannot be retried (it was processed already)."""


@dataclass(frozen=True)
class Receipt:
    """What happened to one message, and the ACK to answer with."""

    message_id: uuid.UUID
    state: MessageState
    ack_code: str  # AA | AE | AR
    ack: str
    duplicate: bool = False
    error_code: str | None = None
    error_detail: str | None = None


def _find(session: Session, source: str, control_id: str, key: str) -> Hl7Message | None:
    return session.scalars(
        select(Hl7Message).where(
            Hl7Message.source == source,
            Hl7Message.control_id == control_id,
            Hl7Message.digest == key,
        )
    ).first()


def _receipt(row: Hl7Message, *, duplicate: bool = False) -> Receipt:
    return Receipt(
        message_id=row.id,
        state=row.state,
        ack_code=row.ack_code or "AR",
        ack=row.ack or "",
        duplicate=duplicate,
        error_code=row.error_code,
        error_detail=row.error_detail,
    )


@dataclass(frozen=True, slots=True)
class Incoming:
    row: Hl7Message  # new, not in the session yet
    parsed: Parsed | None
    error: Hl7ContentError | None  # why it did not parse


def _incoming(text: str, transport: str, now: datetime) -> Incoming:
    normalized = normalize(text)
    try:
        parsed: Parsed | None = parse(normalized)
        error: Hl7ContentError | None = None
    except Hl7ContentError as exc:
        parsed, error = None, exc
    header = parsed.header if parsed is not None else None
    row = Hl7Message(
        id=uuid.uuid4(),
        source=header.source if header is not None else "unknown",
        control_id=(header.control_id if header is not None else "")[:199],
        digest=digest(normalized),
        message_type=(header.message_type if header is not None else "")[:20],
        version=(header.version if header is not None else "")[:16],
        transport=transport,
        state=MessageState.RECEIVED,
        attempts=0,
        received_at=now,
        raw=normalized,
    )
    return Incoming(row, parsed, error)


@functools.cache
def _insert_statement(columns: tuple[str, ...]) -> TextClause:
    """INSERT ... ON CONFLICT DO NOTHING for these columns (SQLite and PostgreSQL both
    speak it). Plain SQL with typed parameters: the dialects' own on-conflict inserts
    are not cacheable, so they would be compiled again for every message."""
    table = Hl7Message.__table__
    assert isinstance(table, Table)
    names = ", ".join(columns)
    params = ", ".join(f":{c}" for c in columns)
    return text(
        f"INSERT INTO {table.name} ({names}) VALUES ({params}) ON CONFLICT DO NOTHING"  # noqa: S608
    ).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))


def _insert_new(session: Session, row: Hl7Message) -> bool:
    """Insert the row unless its (source, control id, digest) is stored already; True if
    it was. One statement: no look-up first and no savepoint, as a resend is the rare
    case (and a resend on another connection a moment ago is no error either)."""
    table = Hl7Message.__table__
    assert isinstance(table, Table)
    # Unset columns are left out, so they take their defaults (NULL, not JSON null).
    values = {c.key: getattr(row, c.key) for c in table.c if getattr(row, c.key) is not None}
    inserted = session.execute(_insert_statement(tuple(values)), values)
    return bool(inserted.rowcount)  # type: ignore[attr-defined]


def _stored_twin(session: Session, row: Hl7Message) -> Hl7Message:
    found = _find(session, row.source, row.control_id, row.digest)
    if found is None:  # the conflicting insert was rolled back meanwhile: cannot be
        raise RuntimeError("hl7 message conflicts with a row that is not there")
    return found


ANSWERED = frozenset({MessageState.PROCESSED, MessageState.REJECTED})
"""A resend of a message in these states gets the first ACK again, nothing more."""


def receive(
    *,
    session: Session,
    text: str,
    secret_key: str,
    transport: str = "mllp",
    now: datetime | None = None,
) -> Receipt:
    """Store one message and process it (or answer a resend with its first ACK)."""
    now = now or utcnow()
    incoming = _incoming(text, transport, now)
    row = incoming.row
    if _insert_new(session, row):
        # It is stored: the session tracks it from here as if it had loaded it, so what
        # processing sets is one UPDATE.
        make_transient_to_detached(row)
        session.add(row)
    else:
        row = _stored_twin(session, row)
        if row.state in ANSWERED:
            return _receipt(row, duplicate=True)
    if incoming.parsed is None:
        assert incoming.error is not None
        finish(row, None, "AE", MessageState.FAILED, "not_hl7", incoming.error, now)
        return _receipt(row)
    _process(session, row, incoming.parsed, secret_key, now)
    return _receipt(row)


def _answer_stored(row: Hl7Message, incoming: Incoming, now: datetime) -> None:
    """The state and ACK of a message stored to be applied later: AA, or the refusal of
    the checks (as :func:`receive` would answer)."""
    parsed = incoming.parsed
    if parsed is None:
        assert incoming.error is not None
        row.attempts += 1
        return finish(row, None, "AE", MessageState.FAILED, "not_hl7", incoming.error, now)
    refused = check(parsed)
    if refused is not None:
        row.attempts += 1
        return finish(row, parsed, *refused, now)
    row.state = MessageState.RECEIVED
    row.ack_code = "AA"
    row.ack = build_ack(parsed.header, "AA", now=now)
    row.error_code = row.error_detail = None
    return None


def store(
    *, session: Session, text: str, transport: str = "mllp", now: datetime | None = None
) -> Receipt:
    """Store one message to be applied later (state ``received``), after every check that
    needs no database; the receipt carries the ACK: AA (what a processed message gets),
    or the AE / AR the checks found, the message then stored as failed or rejected as
    :func:`receive` would. A resend of a message waiting to be applied gets its AA again."""
    return store_prepared(session, prepare(text, transport=transport, now=now))


def prepare(text: str, *, transport: str = "mllp", now: datetime | None = None) -> Incoming:
    """What :func:`store` does before it needs the database: parse, check, the row and
    its answer (a listener does it before it takes SQLite's write lock)."""
    now = now or utcnow()
    incoming = _incoming(text, transport, now)
    _answer_stored(incoming.row, incoming, now)
    return incoming


def store_prepared(session: Session, incoming: Incoming) -> Receipt:
    """The database half of :func:`store`: one INSERT, with its answer."""
    if _insert_new(session, incoming.row):
        return _receipt(incoming.row)
    row = _stored_twin(session, incoming.row)
    if row.state in ANSWERED or (row.state is MessageState.RECEIVED and row.ack_code == "AA"):
        return _receipt(row, duplicate=True)
    # A failed message sent again is applied again, as receive() would process it again.
    _answer_stored(row, incoming, incoming.row.received_at)
    return _receipt(row)


def apply_stored(
    *,
    session: Session,
    row: Hl7Message,
    secret_key: str,
    now: datetime | None = None,
    parsed: Parsed | None = None,
) -> Receipt:
    """Process a message :func:`store` kept (state ``received``), as :func:`receive`
    would have; a failure lands in the error queue. A message that ends processed keeps
    the AA its sender got. ``parsed``: the message, if the caller parsed it already."""
    now = now or utcnow()
    answered = row.ack if row.ack_code == "AA" else None
    parsed = parsed or _reparse(row, now)
    if parsed is None:
        return _receipt(row)
    _process(session, row, parsed, secret_key, now)
    if row.state is MessageState.PROCESSED and answered is not None:
        row.ack = answered
    return _receipt(row)


def next_received(*what: Any, limit: int) -> Select[Any]:
    """``what`` of the next ``limit`` messages stored but not applied yet, in arrival
    order (the order they are applied in)."""
    return (
        select(*what)
        .where(Hl7Message.state == MessageState.RECEIVED)
        .order_by(Hl7Message.received_at, Hl7Message.id)
        .limit(limit)
    )


def received(session: Session, *, limit: int) -> list[Hl7Message]:
    """Messages stored but not applied yet, in arrival order, locked for this
    transaction (a retry of one of them waits, then finds it processed)."""
    return list(session.scalars(next_received(Hl7Message, limit=limit).with_for_update()))


Refusal = tuple[str, MessageState, str, Hl7ContentError]
"""(ACK code, state, error code, problem) of a message refused on its content."""


def header_refusal(header: Header) -> Refusal | None:
    if not header.control_id:
        problem = Hl7ContentError("MSH-10", "no message control id", code="101")
        return "AE", MessageState.FAILED, "content_error", problem
    if not header.version_supported:
        problem = Hl7ContentError("MSH-12", "version not supported (2.3 to 2.8 are)", code="203")
        return "AR", MessageState.REJECTED, "unsupported_version", problem
    if header.event not in HANDLERS:
        known_code = header.event[0] in MESSAGE_CODES
        problem = Hl7ContentError(
            "MSH-9",
            f"{'event' if known_code else 'message type'} {header.message_type} is not handled",
            code="201" if known_code else "200",
        )
        slug = "unsupported_event" if known_code else "unsupported_type"
        return "AR", MessageState.REJECTED, slug, problem
    return None


def check(parsed: Parsed) -> Refusal | None:
    """Every reason to refuse the message that needs no database: the header's, then
    its handler's content checks (the handler runs the same ones when it applies it)."""
    header = parsed.header
    refused = header_refusal(header)
    if refused is not None:
        return refused
    try:
        CHECKS[header.event](parsed.message, header)
    except Hl7ContentError as exc:
        return "AE", MessageState.FAILED, "content_error", exc
    return None


def finish(
    row: Hl7Message,
    parsed: Parsed | None,
    code: str,
    state: MessageState,
    error_code: str | None,
    error: Hl7ContentError | None,
    now: datetime,
    *,
    hl7_code: str | None = None,
) -> None:
    header = parsed.header if parsed is not None else None
    ack_error = None
    if error is not None:
        ack_error = AckError(hl7_code or error.code, error.location, str(error))
    row.state = state
    row.ack_code = code
    row.ack = build_ack(header, code, error=ack_error, now=now)
    row.error_code = error_code
    row.error_detail = str(error) if error is not None else None
    row.processed_at = now


def _process(
    session: Session, row: Hl7Message, parsed: Parsed, secret_key: str, now: datetime
) -> None:
    attempts = row.attempts + 1
    _run(session, row, parsed, secret_key, now)
    # Counted after the run: changing the row first would cost an UPDATE of its own (the
    # savepoint below flushes it), and the final one writes the count anyway.
    row.attempts = attempts
    if row.state is not MessageState.PROCESSED:
        row.warnings = None


def _run(session: Session, row: Hl7Message, parsed: Parsed, secret_key: str, now: datetime) -> None:
    header = parsed.header
    refused = header_refusal(header)
    if refused is not None:
        return finish(row, parsed, *refused, now)
    handler = HANDLERS[header.event]
    ctx = MessageContext(
        session=session, header=header, message=parsed.message, secret_key=secret_key
    )
    session.info[UPSERTED_KEY] = []
    session.info[CREATED_KEY] = {}
    deferred: Deferred | None = session.info.get(DEFERRED_KEY)
    created: dict[uuid.UUID, Loaded] = {}
    try:
        with session.begin_nested():
            touched = handler(ctx)
            session.flush()
            if deferred is None:
                # In the message's savepoint: a matcher failure keeps the message for a
                # retry.
                patients_changed(
                    session,
                    session.info.get(UPSERTED_KEY, []),
                    now=now,
                    created=session.info.get(CREATED_KEY),
                )
                forget_children(session)  # a merge may have moved rows between patients
            else:
                created = dict(session.info.get(CREATED_KEY) or {})
    except Hl7ContentError as exc:
        return finish(row, parsed, "AE", MessageState.FAILED, "content_error", exc, now)
    except OperationalError:
        raise  # the database is down: nothing is stored, the sender gets AR and resends
    except Exception as exc:  # a bug: keep the message for a retry after the fix
        # Only the type: exception text can quote SQL parameters, i.e. patient data.
        logger.error("hl7 %s %s failed: %s", header.message_type, row.id, repr(exc)[:3000])
        problem = Hl7ContentError("", f"internal error ({type(exc).__name__})", code="207")
        return finish(row, parsed, "AR", MessageState.FAILED, "internal_error", problem, now)
    finally:
        upserted = session.info.pop(UPSERTED_KEY, [])
        session.info.pop(CREATED_KEY, None)
    ids = list(dict.fromkeys([*touched, *upserted]))
    if deferred is not None:
        deferred.add(upserted, ids, created)
    row.patient_ids = [str(i) for i in ids] or None
    row.warnings = ctx.warnings or None
    finish(row, parsed, "AA", MessageState.PROCESSED, None, None, now)
    return None


DEFERRED_KEY = "p360.hl7.deferred_match"
"""session.info: while :func:`matching_together` runs, what its messages changed."""


@dataclass
class Deferred:
    """Patients the messages of a batch created or changed, to match at its end."""

    ids: list[uuid.UUID] = field(default_factory=list)
    created: dict[uuid.UUID, Loaded] = field(default_factory=dict)

    def add(
        self, upserted: list[uuid.UUID], touched: list[uuid.UUID], created: dict[uuid.UUID, Loaded]
    ) -> None:
        for patient_id in touched:
            if patient_id not in created:
                # A patient an earlier message created, changed again (or merged): the
                # record built at its creation is stale, so the matcher reads it back.
                self.created.pop(patient_id, None)
        self.created.update(created)
        self.ids += upserted


class MatchingFailed(Exception):
    """Matching a batch's patients together failed: the caller rolls the batch back and
    applies it again one message at a time (where a matcher failure is that message's)."""


@contextmanager
def matching_together(session: Session, *, together: bool = True) -> Iterator[None]:
    """Messages received or applied inside have their new and changed patients matched
    in one pass when the block ends (one candidate look-up and one key write for all,
    instead of one matcher round per message), in the same transaction; raises
    :class:`MatchingFailed` if that fails. Without ``together`` each message's patients
    are matched as it is processed (the fallback of :func:`together_or_one_at_a_time`)."""
    if not together:
        yield
        return
    deferred = Deferred()
    session.info[DEFERRED_KEY] = deferred
    try:
        yield
    finally:
        session.info.pop(DEFERRED_KEY, None)
    if not deferred.ids:
        return
    try:
        with session.begin_nested():
            patients_changed(
                session, deferred.ids, now=utcnow(), created=deferred.created, together=True
            )
    except OperationalError:
        raise  # the database is down: the caller answers AR
    except Exception as exc:
        # Only the type: exception text can quote SQL parameters, i.e. patient data.
        logger.error("hl7 batch matching failed (%s): one at a time", type(exc).__name__)
        raise MatchingFailed from None


def together_or_one_at_a_time(work: Callable[[bool], T]) -> T:
    """``work(True)``: a transaction whose messages' patients are matched together
    (:func:`matching_together`). If that pass fails the transaction has rolled back, and
    ``work(False)`` does it all again matching per message: nothing is lost, and a
    matcher failure is then the one message's."""
    try:
        return work(True)
    except MatchingFailed:
        return work(False)


def retry(
    *, session: Session, message_id: uuid.UUID, secret_key: str, now: datetime | None = None
) -> Receipt:
    """Process a failed (or rejected) message again, after a fix."""
    now = now or utcnow()
    # Locked: a listener's applier may be applying the same stored message right now
    # (it locks what it applies, so this waits and then finds the message processed).
    row = session.get(Hl7Message, message_id, with_for_update=True)
    if row is None:
        raise NotFound()
    if row.state == MessageState.PROCESSED:
        raise RetryRefused("the message was processed already")
    parsed = _reparse(row, now)
    if parsed is not None:
        _process(session, row, parsed, secret_key, now)
    return _receipt(row)


def _reparse(row: Hl7Message, now: datetime) -> Parsed | None:
    """A stored message parsed again; None (and the row failed, counted as an attempt)
    when it is not HL7 at all."""
    try:
        return parse(row.raw)
    except Hl7ContentError as exc:
        row.attempts += 1
        finish(row, None, "AE", MessageState.FAILED, "not_hl7", exc, now)
        return None


def failed_ids(session: Session) -> list[uuid.UUID]:
    """The error queue, oldest first."""
    return list(
        session.scalars(
            select(Hl7Message.id)
            .where(Hl7Message.state == MessageState.FAILED)
            .order_by(Hl7Message.received_at, Hl7Message.id)
        )
    )
