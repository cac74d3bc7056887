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
from datetime import datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.bulk import insert_objects
from backend.common.mixins import utcnow
from backend.interop.hl7v2.handlers import HANDLERS, adt
from backend.interop.hl7v2.handlers.common import (
    KNOWN_KEY,
    Identifier,
    MessageContext,
    NewPatient,
    check_pid,
    new_patient,
    patient_key,
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
)

logger = logging.getLogger(__name__)


def _parse(row: Hl7Message) -> Parsed | None:
    try:
        return parse(row.raw)
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
) -> None:
    """Apply stored messages (``received``, locked by the caller) in arrival order, each
    as :func:`~backend.interop.hl7v2.store.apply_stored` would."""
    now = now or utcnow()
    parses = {row.id: _parse(row) for row in rows}
    named = {row.id: _named(parses[row.id]) for row in rows}
    mentions = Counter(patient_key(mrn) for mrns in named.values() for mrn in mrns)
    known = read_patients(session, set(mentions))
    session.info[KNOWN_KEY] = known
    try:
        deferred: Deferred | None = session.info.get(DEFERRED_KEY)
        done: dict[uuid.UUID, NewPatient] = {}
        if deferred is not None:  # bulk registrations are matched with the batch
            fresh = []
            for row in rows:
                mrns = named[row.id]
                if len(mrns) != 1 or not _registers(parses[row.id]):
                    continue
                key = patient_key(mrns[0])
                if mentions[key] == 1 and known.get(key, False) is None:
                    fresh.append((row, mrns[0]))  # new, and no other message names it
            done = _register_new(session, fresh, parses, secret_key, now)
        for row in rows:
            new = done.get(row.id)
            if new is None:
                apply_stored(
                    session=session, row=row, secret_key=secret_key, now=now, parsed=parses[row.id]
                )
            else:  # handed to the matcher in arrival order, as if applied here
                assert deferred is not None
                patient_id = new.patient.id
                deferred.add([patient_id], [patient_id], {patient_id: new.loaded})
    finally:
        session.info.pop(KNOWN_KEY, None)


def _registers(parsed: Parsed | None) -> bool:
    """An A04 / A08 (it passed the checks when it was stored; a problem found while
    mapping it sends it the one-at-a-time way, which files it)."""
    if parsed is None:
        return False
    header = parsed.header
    handler = HANDLERS.get(header.event)
    return handler is adt.register and header_refusal(header) is None


def _register_new(
    session: Session,
    rows: list[tuple[Hl7Message, Identifier]],
    parses: Mapping[uuid.UUID, Parsed | None],
    secret_key: str,
    now: datetime,
) -> dict[uuid.UUID, NewPatient]:
    """Insert the new patients these registrations describe in bulk and mark them
    processed; returns them by message id (none if the insert failed)."""
    built: list[tuple[Hl7Message, Parsed, MessageContext, NewPatient]] = []
    for row, mrn in rows:
        parsed = parses[row.id]
        assert parsed is not None
        ctx = MessageContext(
            session=session, header=parsed.header, message=parsed.message, secret_key=secret_key
        )
        try:  # new_patient reads, so checks, the name and dates
            built.append((row, parsed, ctx, new_patient(ctx, first(parsed.message, "PID"), mrn)))
        except Exception:  # noqa: S112  applied alone, it fails there as it should
            continue
    if not built:
        return {}
    try:
        with session.begin_nested():
            patients = [new.patient for *_, new in built]
            insert_objects(session, patients + [r for *_, new in built for r in new.rows])
    except OperationalError:
        raise  # the database is down: the batch rolls back and stays stored
    except Exception as exc:
        # Only the type: exception text can quote SQL parameters, i.e. patient data.
        logger.error("hl7 bulk registration failed (%s): one at a time", type(exc).__name__)
        return {}
    for row, parsed, ctx, new in built:
        patient_id = new.patient.id
        answered = row.ack if row.ack_code == "AA" else None
        row.attempts += 1
        row.patient_ids = [str(patient_id)]
        row.warnings = ctx.warnings or None
        finish(row, parsed, "AA", MessageState.PROCESSED, None, None, now)
        if answered is not None:
            row.ack = answered  # the AA its sender got
    return {row.id: new for row, *_, new in built}
