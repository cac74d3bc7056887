"""After a merge, the merged patient's id keeps working: reads and writes reach the survivor.

* :func:`resolve_survivor` follows confirmed ``merged_into`` links (a chain when the
  survivor was itself merged later), so ``patient(id)`` with an old id answers with the
  survivor.
* :func:`route_new_records` runs before every ORM flush: a new patient-owned row whose
  ``patient_id`` is a merged patient is stored on the survivor, and a
  :class:`~backend.identity.models.MergeRoutedRecord` remembers which patient it was
  addressed to, so an unmerge returns it. Writers (imports, staff and portal mutations)
  need not know about merges. Core bulk inserts (the demo seeder) bypass the ORM and are
  not routed; they never write for merged patients.

On PostgreSQL the addressed patient rows are read ``FOR SHARE``: a merge holds them
``FOR UPDATE``, so an insert racing a merge waits for it and then sees ``merged``,
instead of landing on the merged record after its rows were moved.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from backend.identity.models import IdentityLink, LinkKind, LinkStatus, MergeRoutedRecord
from backend.identity.ownership import owned_tables
from backend.patients.models import Patient, PatientStatus

MAX_CHAIN = 16
"""Merges stacked deeper than this are refused (a cycle would be a bug, not data)."""


class MergeChainError(RuntimeError):
    """The merged_into links form a cycle or an absurdly long chain."""


def survivor_of(session: Session, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The patient ``patient_id`` was merged into (one hop), or None when not merged."""
    return session.execute(
        select(IdentityLink.patient_b_id).where(
            IdentityLink.patient_a_id == patient_id,
            IdentityLink.kind == LinkKind.MERGED_INTO,
            IdentityLink.status == LinkStatus.CONFIRMED,
        )
    ).scalar()


def resolve_survivor(session: Session, patient_id: uuid.UUID) -> uuid.UUID:
    """The record that now holds ``patient_id``'s data: itself unless merged."""
    current = patient_id
    for _ in range(MAX_CHAIN):
        following = survivor_of(session, current)
        if following is None:
            return current
        current = following
    raise MergeChainError("merged_into links do not end")


def _owned_table_names() -> frozenset[str]:
    global _OWNED
    if _OWNED is None:
        _OWNED = frozenset(t.name for t in owned_tables())
    return _OWNED


_OWNED: frozenset[str] | None = None


def route_new_records(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    """before_flush: re-point new rows addressed to a merged patient (see module doc)."""
    owned = _owned_table_names()
    # A patient inserted in this same flush cannot have been merged: rows addressed to
    # it need no look-up (a registration writes the patient and its rows in one flush).
    inserted = {obj.id for obj in session.new if isinstance(obj, Patient)}
    pending: list[Any] = []
    for obj in session.new:
        if isinstance(obj, (MergeRoutedRecord, Patient)):
            continue
        table = getattr(inspect(obj).mapper, "local_table", None)
        if table is None or table.name not in owned:
            continue
        patient_id = getattr(obj, "patient_id", None)
        if patient_id is not None and patient_id not in inserted:
            pending.append(obj)
    if not pending:
        return
    addressed = sorted({obj.patient_id for obj in pending})
    query = select(Patient.id, Patient.status).where(Patient.id.in_(addressed))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    with session.no_autoflush:
        merged = [pid for pid, status in session.execute(query) if status == PatientStatus.MERGED]
        if not merged:
            return
        survivors = {pid: resolve_survivor(session, pid) for pid in merged}
    now = datetime.now(UTC)
    for obj in pending:
        target = survivors.get(obj.patient_id)
        if target is None:
            continue
        if obj.id is None:
            obj.id = uuid.uuid4()
        session.add(
            MergeRoutedRecord(
                table_name=inspect(obj).mapper.local_table.name,
                row_id=obj.id,
                from_patient_id=obj.patient_id,
                to_patient_id=target,
                routed_at=now,
            )
        )
        obj.patient_id = target


event.listen(Session, "before_flush", route_new_records)
