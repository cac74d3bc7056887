"""Apply a batch of stored messages in one transaction at a low cost per message.

What :func:`~backend.interop.hl7v2.store.apply_stored` does for one message costs, per
message, a patient look-up, an ORM flush of the patient and its rows in a savepoint
and (after a restart) a parse. Here a batch pays for those once:

* every patient its messages name by MRN (PID-3, MRG-1) is read in one query, and the
  handlers' :func:`~backend.interop.hl7v2.handlers.common.find_patient` answers from it;
* registrations (A04 / A08) of new patients named by no other message of the batch are
  mapped by the handlers' own code (:func:`~backend.interop.hl7v2.handlers.common.
  new_patient`) and inserted with one executemany per table and column set; if that
  fails, they are applied one at a time like every other message, in a savepoint each,
  so a failure is still that message's alone;
* each message is parsed once (for the look-up and the handler together). Keeping the
  parse :func:`~backend.interop.hl7v2.store.store` made, in memory until the apply,
  was measured and dropped: the listener's ACK rate fell by a third and the applied
  rate did not rise (see docs/performance.md);
* the messages' final states are written by one flush at the end (one executemany).
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.bulk import insert_objects
from backend.common.mixins import utcnow
from backend.db import lock_for_writing, session_factory
from backend.interop.hl7v2.handlers import HANDLERS, adt
from backend.interop.hl7v2.handlers.common import (
    KNOWN_KEY,
    Identifier,
    MessageContext,
    NewPatient,
    PatientKey,
    check_pid,
    forget_children,
    known_keys,
    new_patient,
    patient_key,
    read_children,
    read_patients,
)
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.parse import Hl7ContentError, Parsed, first, parse
from backend.interop.hl7v2.store import (
    DEFERRED_KEY,
    Deferred,
    apply_stored,
    finish,
    header_refusal,
    matching_together,
    next_received,
    received,
    together_or_one_at_a_time,
)

logger = logging.getLogger(__name__)

BATCH = 50
"""Stored messages applied per transaction at most: one commit and one matcher pass for
many, while a failure that rolls a batch back (the database gone) repeats little."""


def apply_next(
    engine: Engine,
    *,
    secret_key: str,
    limit: int = BATCH,
    writing: AbstractContextManager[Any] | None = None,
) -> int:
    """Apply up to ``limit`` stored messages, oldest first, in one transaction (a
    savepoint each, so a failure stays that message's), their patients matched
    together at the end (per message if that fails); returns how many. ``writing``:
    held from the moment the transaction takes the write lock until it commits (the
    applier's hand-over of SQLite's lock, see :mod:`~backend.interop.hl7v2.applier`)."""
    return together_or_one_at_a_time(
        lambda together: _apply_next_once(engine, secret_key, limit, writing, together=together)
    )


def _apply_next_once(
    engine: Engine,
    secret_key: str,
    limit: int,
    writing: AbstractContextManager[Any] | None,
    *,
    together: bool,
) -> int:
    with session_factory(engine)() as session:
        # The CPU-heavy part before the write lock: on SQLite, the listener's commits
        # go on meanwhile (one write lock for both processes).
        ahead = read_ahead(session, secret_key=secret_key, limit=limit)
        session.rollback()  # the reads end here; the write reads the rows again, locked
        with writing or nullcontext(), session.begin():
            lock_for_writing(session)
            # Locked (a retry may be processing one of them), and read in one query.
            rows = received(session, limit=limit)
            with matching_together(session, together=together):
                # No savepoint per message here: processing has one (a failure there is
                # the message's), and what escapes it (the database down) ends the batch.
                apply_batch(session=session, rows=rows, secret_key=secret_key, ahead=ahead)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Ahead:
    """A stored message prepared before its batch takes the write lock: parsed, the MRNs
    it names and, for a registration of a patient unknown then, the patient it would
    create (used only if still unknown under the lock, and named by no other message)."""

    parsed: Parsed | None
    named: list[Identifier]
    new: NewPatient | None = None
    warnings: tuple[str, ...] = ()


def read_ahead(session: Session, *, secret_key: str, limit: int) -> dict[uuid.UUID, Ahead]:
    """The next ``limit`` stored messages, prepared (read without a lock: the batch reads
    them again locked, and prepares any it finds here no more)."""
    stored = session.execute(next_received(Hl7Message.id, Hl7Message.raw, limit=limit)).all()
    ahead = {message_id: _ahead(raw) for message_id, raw in stored}
    mentions = Counter(patient_key(mrn) for a in ahead.values() for mrn in a.named)
    held = known_keys(session, set(mentions))
    for message_id, one in ahead.items():
        key = _registration_key(one, mentions)
        if key is not None and key not in held:
            ahead[message_id] = _with_new_patient(session, one, secret_key)
    return ahead


def _registration_key(one: Ahead, mentions: Counter[PatientKey]) -> PatientKey | None:
    """The patient an A04 / A08 registers, if no other message of the batch names it:
    one the bulk path may create, when it is not held."""
    if len(one.named) != 1 or not _registers(one.parsed):
        return None
    key = patient_key(one.named[0])
    return key if mentions[key] == 1 else None


def _ahead(raw: str) -> Ahead:
    parsed = _parse(raw)
    return Ahead(parsed, _named(parsed))


def _with_new_patient(session: Session, one: Ahead, secret_key: str) -> Ahead:
    parsed = one.parsed
    assert parsed is not None
    ctx = MessageContext(
        session=session, header=parsed.header, message=parsed.message, secret_key=secret_key
    )
    try:  # new_patient reads, so checks, the name and dates
        new = new_patient(ctx, first(parsed.message, "PID"), one.named[0])
    except Exception:  # applied alone, it fails there as it should
        return one
    new.loaded.warm()  # its matcher keys too, while no lock is held
    return Ahead(parsed, one.named, new, tuple(ctx.warnings))


def apply_all(engine: Engine, *, secret_key: str) -> int:
    """Apply every stored message, a batch at a time; returns how many."""
    total = 0
    while applied := apply_next(engine, secret_key=secret_key):
        total += applied
    return total


def _parse(raw: str) -> Parsed | None:
    try:
        return parse(raw)
    except Hl7ContentError:
        return None  # apply_stored files it as not HL7


def _named(parsed: Parsed | None) -> list[Identifier]:
    """The patients a message names by MRN: its PID's and, in a merge, MRG-1's."""
    if parsed is None:
        return []
    try:
        _, mrn = check_pid(parsed.message, parsed.header, demographics=False)
        named = [mrn]
        if first(parsed.message, "MRG") is not None:
            named.append(adt.check_merge(parsed.message, parsed.header))
    except Hl7ContentError:
        return []  # its handler finds the same problem and fails it
    return named


def apply_batch(
    *,
    session: Session,
    rows: Sequence[Hl7Message],
    secret_key: str,
    now: datetime | None = None,
    ahead: Mapping[uuid.UUID, Ahead] | None = None,
) -> None:
    """Apply stored messages (``received``, locked by the caller) in arrival order, each
    as :func:`~backend.interop.hl7v2.store.apply_stored` would. ``ahead``: what
    :func:`read_ahead` prepared (the rest is prepared here)."""
    now = now or utcnow()
    ahead = {row.id: (ahead or {}).get(row.id) or _ahead(row.raw) for row in rows}
    mentions = Counter(patient_key(mrn) for a in ahead.values() for mrn in a.named)
    known = read_patients(session, set(mentions))
    session.info[KNOWN_KEY] = known
    read_children(session, [p for p in known.values() if p is not None])
    try:
        deferred: Deferred | None = session.info.get(DEFERRED_KEY)
        done: dict[uuid.UUID, NewPatient] = {}
        if deferred is not None:  # bulk registrations are matched with the batch
            fresh = []
            for row in rows:
                one = ahead[row.id]
                key = _registration_key(one, mentions)
                if key is not None and known.get(key, False) is None:  # not held
                    if one.new is None:
                        one = _with_new_patient(session, one, secret_key)
                    if one.new is not None:
                        fresh.append((row, one))
            done = _register_new(session, fresh, now)
        for row in rows:
            new = done.get(row.id)
            if new is None:
                parsed = ahead[row.id].parsed
                apply_stored(
                    session=session, row=row, secret_key=secret_key, now=now, parsed=parsed
                )
            else:  # handed to the matcher in arrival order, as if applied here
                assert deferred is not None
                patient_id = new.patient.id
                deferred.add([patient_id], [patient_id], {patient_id: new.loaded})
    finally:
        session.info.pop(KNOWN_KEY, None)
        forget_children(session)


def _registers(parsed: Parsed | None) -> bool:
    """An A04 / A08 (it passed the checks when it was stored; a problem found while
    mapping it sends it the one-at-a-time way, which files it)."""
    if parsed is None:
        return False
    header = parsed.header
    handler = HANDLERS.get(header.event)
    return handler is adt.register and header_refusal(header) is None


def _register_new(
    session: Session, fresh: list[tuple[Hl7Message, Ahead]], now: datetime
) -> dict[uuid.UUID, NewPatient]:
    """Insert the new patients these registrations describe in bulk and mark them
    processed; returns them by message id (none if the insert failed)."""
    if not fresh:
        return {}
    news = [one.new for _, one in fresh if one.new is not None]
    try:
        with session.begin_nested():
            insert_objects(session, [n.patient for n in news] + [r for n in news for r in n.rows])
    except OperationalError:
        raise  # the database is down: the batch rolls back and stays stored
    except Exception as exc:
        # Only the type: exception text can quote SQL parameters, i.e. patient data.
        logger.error("hl7 bulk registration failed (%s): one at a time", type(exc).__name__)
        return {}
    done = {}
    for row, one in fresh:
        assert one.new is not None
        patient_id = one.new.patient.id
        answered = row.ack if row.ack_code == "AA" else None
        row.attempts += 1
        row.patient_ids = [str(patient_id)]
        row.warnings = list(one.warnings) or None
        finish(row, one.parsed, "AA", MessageState.PROCESSED, None, None, now)
        if answered is not None:
            row.ack = answered  # the AA its sender got
        done[row.id] = one.new
    return done
