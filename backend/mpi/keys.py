"""Blocking keys as indexed rows, so candidates are found by an index lookup, not a scan.

Each live patient has one ``patient_match_key`` row per blocking key of its
:class:`~backend.mpi.normalize.MatchRecord` (phonetic surname + birth year, birth date,
phone, e-mail, identifier ...). The value stored is a hash of ``kind`` and the
normalized value: fixed width for the ``(kind, value)`` index, and not readable at a
glance (it is no secret: a phone number can be guessed and hashed).

``patient_match_state`` holds a fingerprint of the patient's matching data and when it
last changed. A "not a duplicate" decision is compared with ``changed_at``: the pair comes
back only if either record's matching data changed after the decision. Timestamps of the
patient row itself would not do: any edit (a language, a pronoun) bumps ``updated_at``.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Table,
    bindparam,
    cast,
    delete,
    insert,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.bulk import bulk_insert
from backend.db import Base, narrows_row_values, row_in, row_in_params

CHUNK = 500  # ids per IN list, well under both databases' parameter limits


class PatientMatchKey(Base):
    """One blocking key of one patient."""

    __tablename__ = "patient_match_key"
    # patient_id in the index too: a candidate lookup reads the holders of a key from the
    # index alone (an index-only scan), not from a heap page per holder.
    __table_args__ = (Index("ix_patient_match_key_lookup", "kind", "value", "patient_id"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    value: Mapped[str] = mapped_column(String(32), primary_key=True)


class PatientMatchState(Base):
    """What the patient's matching data looked like when its keys were last built."""

    __tablename__ = "patient_match_state"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime]


Key = tuple[str, str]


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """COPY where the driver connection is psycopg's synchronous one (``mpi scan``, the
    matcher in scripts and workers); an executemany elsewhere (SQLite, and the API's
    sessions over the async driver, whose COPY would have to be awaited)."""
    connection = session.connection()
    if isinstance(connection.connection.driver_connection, psycopg.Connection):
        bulk_insert(connection, table, rows)
    else:
        session.execute(insert(table), rows)


def hashed(kind: str, value: str) -> Key:
    digest = hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=16).hexdigest()
    return kind[:24], digest


def hashed_keys(keys: Iterable[tuple[str, str]]) -> frozenset[Key]:
    return frozenset(hashed(kind, value) for kind, value in keys)


def _chunks(ids: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def sync_keys(
    session: Session,
    keys: Mapping[uuid.UUID, frozenset[Key]],
    fingerprints: Mapping[uuid.UUID, str],
    *,
    now: datetime,
    new: bool = False,
    between: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> set[uuid.UUID]:
    """Make the stored keys and fingerprints of these patients equal to ``keys`` and
    ``fingerprints``, writing only differences; returns the ids whose matching data
    changed (or were seen for the first time). ``new``: the patients were inserted in
    this transaction and never indexed, so there is nothing stored to read.
    ``between``: the patients are every keyed patient with an id in this range (first
    and last included), so what is stored is read by range, one query per table."""
    ids = sorted(keys)
    stored: dict[uuid.UUID, set[Key]] = {i: set() for i in ids}
    states: dict[uuid.UUID, str] = {}
    parts: Iterable[Any] = [] if new else [between] if between is not None else _chunks(ids)
    for part in parts:
        by_range = isinstance(part, tuple)
        params = {"lo": part[0], "hi": part[1]} if by_range else {"ids": part}
        for pid, kind, value in session.execute(_stored_query(by_range), params):
            if kind is None:  # the fingerprint's row
                states[pid] = value
            elif pid in stored:  # a range may hold a patient merged or deleted since
                stored[pid].add((kind, value))
    removed = [(pid, kind, value) for pid in ids for kind, value in stored[pid] - keys[pid]]
    added = [
        {"patient_id": pid, "kind": kind, "value": value}
        for pid in ids
        for kind, value in keys[pid] - stored[pid]
    ]
    narrow_by = _PATIENT if narrows_row_values(session) else ()
    for start in range(0, len(removed), CHUNK):
        part = removed[start : start + CHUNK]
        session.execute(
            _delete_keys_query(narrow_by), row_in_params("keys", part, narrow_by=narrow_by)
        )
    # COPY on PostgreSQL: psycopg sends an executemany row by row, and the scan adds
    # some eight keys for each of its patients.
    if added:
        _insert(session, _table(PatientMatchKey.__tablename__), added)
    changed = {pid for pid in ids if states.get(pid) != fingerprints[pid]}
    fresh = sorted(pid for pid in changed if pid not in states)
    if fresh:
        _insert(
            session,
            _table(PatientMatchState.__tablename__),
            [{"patient_id": p, "fingerprint": fingerprints[p], "changed_at": now} for p in fresh],
        )
    for pid in sorted(changed - set(fresh)):
        session.execute(_UPDATE_STATE, {"of": pid, "to": fingerprints[pid], "at": now})
    return changed


@functools.cache
def _stored_query(by_range: bool) -> Any:
    """The stored keys and fingerprints of some patients (``ids``, or every patient from
    ``lo`` to ``hi``) in one UNION ALL, the fingerprint's row with no kind: one round
    trip, not two. Built once: building and keying the statements cost more than the
    database's answer (each match and each merge reads its patients' keys)."""

    def of(column: Any) -> Any:
        if by_range:
            return column.between(bindparam("lo"), bindparam("hi"))
        return column.in_(bindparam("ids", expanding=True))

    keys = select(PatientMatchKey.patient_id, PatientMatchKey.kind, PatientMatchKey.value)
    states = select(
        PatientMatchState.patient_id,
        cast(null(), String(24)),
        PatientMatchState.fingerprint,
    )
    return union_all(
        keys.where(of(PatientMatchKey.patient_id)),
        states.where(of(PatientMatchState.patient_id)),
    )


_PATIENT = (0,)  # a removed key's patient, searched by the primary key


@functools.cache
def _delete_keys_query(narrow_by: tuple[int, ...]) -> Any:
    """Delete the ``keys`` rows ((patient, kind, value) triples); on SQLite narrowed by
    their patients (:func:`~backend.db.row_in`: a scan of every key of every patient
    cost 10 ms at 10,000 patients). Built once, as _stored_query."""
    columns = (PatientMatchKey.patient_id, PatientMatchKey.kind, PatientMatchKey.value)
    return delete(PatientMatchKey).where(row_in(columns, "keys", narrow_by=narrow_by))


# Built once, as _stored_query.
_UPDATE_STATE = (
    update(PatientMatchState)
    .where(PatientMatchState.patient_id == bindparam("of"))
    .values(fingerprint=bindparam("to"), changed_at=bindparam("at"))
)
_DROP = delete(PatientMatchKey).where(
    PatientMatchKey.patient_id.in_(bindparam("ids", expanding=True))
)


def drop_keys(session: Session, patient_ids: Iterable[uuid.UUID]) -> None:
    """A merged or deleted patient is nobody's candidate any more."""
    ids = sorted(set(patient_ids))
    for part in _chunks(ids):
        session.execute(_DROP, {"ids": part})


def changed_at(session: Session, patient_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """When each patient's matching data last changed (absent: never indexed)."""
    ids = sorted(set(patient_ids))
    found: dict[uuid.UUID, datetime] = {}
    for part in _chunks(ids):
        found.update(
            session.execute(
                select(PatientMatchState.patient_id, PatientMatchState.changed_at).where(
                    PatientMatchState.patient_id.in_(part)
                )
            )
            .tuples()
            .all()
        )
    return found
