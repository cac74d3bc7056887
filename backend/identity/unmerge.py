"""Undo a merge exactly: every row goes back where it was, new rows go where they belong.

What returns to the merged patient:

* every row the merge moved (``MergeRecord.moved_records``) that is still on the
  survivor, whatever was edited in it since;
* every row written *after* the merge that was addressed to the merged patient (or to a
  record merged into it) and routed to the survivor (:class:`MergeRoutedRecord`, see
  :mod:`.routing`). Rows staff added to the survivor itself stay with the survivor.

Rows a collision rule changed get their prior values back unless someone changed them
again since (their ``version`` moved on): a later deliberate edit wins over the undo.
A merge whose survivor was itself merged later must wait: unmerge the later one first.
The pair is then marked ``not_duplicate`` so the matcher does not merge them again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.db import Base
from backend.identity.merge import (
    MergeConflict,
    MergeNotFound,
    audit_pair,
    bump,
    chunks,
    clean_reason,
    expire_rows,
    lock_patients,
    require_capability,
)
from backend.identity.models import (
    IdentityLink,
    LinkKind,
    LinkMethod,
    LinkStatus,
    MergeRecord,
    MergeRoutedRecord,
)
from backend.identity.ownership import record_type_names
from backend.patients.models import PatientStatus


def merged_family(session: Session, patient_id: uuid.UUID) -> set[uuid.UUID]:
    """``patient_id`` and every record currently merged into it, directly or not."""
    family, frontier = {patient_id}, {patient_id}
    while frontier:
        found = set(
            session.execute(
                select(IdentityLink.patient_a_id).where(
                    IdentityLink.patient_b_id.in_(sorted(frontier)),
                    IdentityLink.kind == LinkKind.MERGED_INTO,
                    IdentityLink.status == LinkStatus.CONFIRMED,
                )
            ).scalars()
        )
        frontier = found - family
        family |= frontier
    return family


def _typed(table: Table, column: str, value: Any) -> Any:
    """A JSON-stored prior value back in its column's Python type."""
    if value is None:
        return None
    python_type = table.c[column].type.python_type
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    return value


def _restore_changed(
    *, session: Session, meta: MetaData, changed: dict[str, Any], now: datetime
) -> None:
    for table_name, rows in changed.items():
        table = meta.tables[table_name]
        for row_id, change in rows.items():
            values = {k: _typed(table, k, v) for k, v in change["before"].items()}
            query = update(table).where(table.c.id == uuid.UUID(row_id))
            if change.get("version") is not None and "version" in table.c:
                query = query.where(table.c.version == change["version"])
            session.execute(query.values(**values, **bump(table, now)))


def _move_back(
    *,
    session: Session,
    meta: MetaData,
    record: MergeRecord,
    family: set[uuid.UUID],
    now: datetime,
) -> set[str]:
    survivor, merged = record.survivor_id, record.merged_id
    wanted: dict[str, list[uuid.UUID]] = {
        name: [uuid.UUID(i) for i in ids] for name, ids in record.moved_records.items()
    }
    routed = session.execute(
        select(MergeRoutedRecord.table_name, MergeRoutedRecord.row_id).where(
            MergeRoutedRecord.from_patient_id.in_(sorted(family)),
            MergeRoutedRecord.routed_at >= record.merged_at,
        )
    ).all()
    for table_name, row_id in routed:
        wanted.setdefault(table_name, []).append(row_id)
    for table_name, ids in wanted.items():
        table = meta.tables[table_name]
        for part in chunks(sorted(set(ids))):
            # Only rows still on the survivor: nothing else is this merge's to move.
            session.execute(
                update(table)
                .where(table.c.id.in_(part), table.c.patient_id == survivor)
                .values(patient_id=merged, **bump(table, now))
                .execution_options(synchronize_session=False)
            )
    return set(wanted)


def unmerge_patients(
    *,
    session: Session,
    principal: Principal | None,
    policy: CompiledPolicy,
    link_id: uuid.UUID,
    reason: str,
    now: datetime,
    metadata: MetaData | None = None,
) -> MergeRecord:
    """Reverse the merge made by the ``merged_into`` link ``link_id`` (module doc)."""
    require_capability(principal, policy)
    reason = clean_reason(reason)
    meta = metadata if metadata is not None else Base.metadata
    session.flush()
    link = session.execute(
        select(IdentityLink)
        .where(IdentityLink.id == link_id, IdentityLink.kind == LinkKind.MERGED_INTO)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if link is None:
        raise MergeNotFound("link not found")
    merged_id, survivor_id = link.patient_a_id, link.patient_b_id
    # The merged record is visible to nobody but through the survivor: scope by it.
    patients = lock_patients(
        session=session, principal=None, patient_ids=(merged_id, survivor_id), now=now
    )
    if principal is not None and not lock_patients(
        session=session, principal=principal, patient_ids=(survivor_id,), now=now
    ):
        raise MergeNotFound("link not found")
    if link.status is not LinkStatus.CONFIRMED:
        raise MergeConflict("this merge was already undone")
    if survivor_id not in patients or merged_id not in patients:
        raise MergeNotFound("link not found")
    if patients[survivor_id].status is PatientStatus.MERGED:
        raise MergeConflict("the surviving record was merged again since: unmerge that first")
    record = session.execute(
        select(MergeRecord)
        .where(MergeRecord.link_id == link.id, MergeRecord.unmerged_at.is_(None))
        .with_for_update()
    ).scalar_one_or_none()
    if record is None:
        raise MergeConflict("this merge was already undone")

    family = merged_family(session, merged_id)
    touched = _move_back(session=session, meta=meta, record=record, family=family, now=now)
    changed: dict[str, Any] = record.merged_snapshot.get("changed", {})
    _restore_changed(session=session, meta=meta, changed=changed, now=now)
    snapshot = record.merged_snapshot.get("patient", {})
    patients[merged_id].status = PatientStatus(snapshot.get("status", PatientStatus.ACTIVE))

    actor = principal.subject_id if principal is not None else None
    link.status = LinkStatus.UNDONE
    link.undone_at = now
    link.undone_by_id = actor
    link.undo_reason = reason
    record.unmerged_at = now
    review_id = record.merged_snapshot.get("review_link_id")
    if review_id is not None:
        review = session.get(IdentityLink, uuid.UUID(review_id))
        if review is not None and review.status is LinkStatus.CONFIRMED:
            review.status = LinkStatus.UNDONE
            review.undone_at, review.undone_by_id, review.undo_reason = now, actor, reason
    # Whoever unmerges has decided these are two people: the matcher must not re-merge.
    session.add(
        IdentityLink(
            patient_a_id=merged_id,
            patient_b_id=survivor_id,
            kind=LinkKind.NOT_DUPLICATE,
            status=LinkStatus.CONFIRMED,
            method=LinkMethod.MANUAL,
            reason=reason,
            created_by_id=actor,
            decided_by_id=actor,
            decided_at=now,
        )
    )
    session.flush()
    names = record_type_names(meta)
    touched |= set(changed)
    audit_pair(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=(survivor_id, merged_id),
        record_types={"Patient", "IdentityLink", "MergeRecord"}
        | {names.get(t, "Patient") for t in touched},
        purpose="unmerge",
        now=now,
    )
    expire_rows(session, touched)
    # Rows moved between the two records: the matcher's index must follow them.
    from backend.mpi.records import refresh_keys  # the matcher imports this module

    refresh_keys(session, (survivor_id, merged_id), now=now)
    return record
