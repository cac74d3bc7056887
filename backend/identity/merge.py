"""Merge two patient records into one, and undo it exactly.

A merge, in one transaction:

1. locks both patient rows (``SELECT ... FOR UPDATE``, in id order so two merges of the
   same pair cannot deadlock); the second of two concurrent merges then sees
   ``status = merged`` and gets :class:`MergeConflict`;
2. re-points every row of every patient-owned table (:mod:`.ownership`, found from the
   metadata) from the merged patient to the survivor, bumping ``version`` so a stale
   write elsewhere fails; ``source_system``/``source_id`` are untouched (provenance);
3. applies a rule where a move would break a unique key (:data:`COLLISION_RULES`):
   the survivor's row wins and the merged one stays, listed as *kept*;
4. marks the merged patient ``merged``, writes a confirmed ``merged_into`` link and a
   :class:`MergeRecord` (moved ids per table, a snapshot of the merged patient, kept
   rows and the prior values of rows a rule changed), deletes nothing, and audits it.

:func:`unmerge_patients` (in :mod:`.unmerge`) reverses all of it.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BindParameter,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    inspect,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal, PrincipalKind
from backend.access.scoping import visible_patients
from backend.accounts.models import PortalAccountStatus
from backend.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.identity.models import (
    IdentityLink,
    LinkKind,
    LinkMethod,
    LinkStatus,
    MergeRecord,
)
from backend.identity.ownership import OwnedTable, owned_tables, record_type_names
from backend.patients.models import Patient, PatientStatus

MERGE_CAPABILITY = "merge_patients"
MIN_REASON = 5
MAX_REASON = 2000
CHUNK = 500  # ids per IN list: well under SQLite's and PostgreSQL's parameter limits


class MergeForbidden(Forbidden):
    """The caller may not merge or unmerge: answered as FORBIDDEN."""


class MergeInputError(InvalidInput):
    """A missing reason, a patient merged into itself ...: answered as BAD_USER_INPUT."""


class MergeNotFound(NotFound):
    """A patient or link that does not exist or is out of scope: answered as NOT_FOUND."""


class MergeConflict(Conflict):
    """Someone merged or unmerged first, or the records are in the wrong state: CONFLICT."""


def require_capability(principal: Principal | None, policy: CompiledPolicy) -> None:
    """Staff with ``merge_patients``; ``None`` is the system applying automatic links."""
    if principal is None:
        return
    if principal.kind is not PrincipalKind.STAFF or not principal_may(
        policy, principal, MERGE_CAPABILITY
    ):
        raise MergeForbidden(
            "merging patient records is not available to this account",
            refused=[f"capability.{MERGE_CAPABILITY}"],
        )


def clean_reason(reason: str) -> str:
    reason = reason.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise MergeInputError("reason", f"a reason needs {MIN_REASON} to {MAX_REASON} characters")
    return reason


def lock_patients(
    *,
    session: Session,
    principal: Principal | None,
    patient_ids: Iterable[uuid.UUID],
    now: datetime,
) -> dict[uuid.UUID, Patient]:
    """Lock the patient rows in id order; absent, deleted or out-of-scope ones are left
    out (the caller answers NOT_FOUND for them, never FORBIDDEN)."""
    params = {"ids": sorted(set(patient_ids))}
    if session.get_bind().dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE: a no-op UPDATE takes its write lock first, so a second
        # merge waits here (busy timeout) and then reads the first one's result.
        session.execute(_SQLITE_LOCK, params)
    query = _LOCK
    if principal is not None:
        query = query.where(visible_patients(principal=principal, now=now))
    return {p.id: p for p in session.execute(query, params).scalars()}


# The statements a merge runs every time are built once (values bound at execution):
# building an ORM statement and its cache key cost more than the database's answer.
_SQLITE_LOCK = (
    update(Patient)
    .where(Patient.id.in_(bindparam("ids", expanding=True)))
    .values(version=Patient.version)
    .execution_options(synchronize_session=False)
)
_LOCK = (
    select(Patient)
    .where(Patient.id.in_(bindparam("ids", expanding=True)), Patient.deleted_at.is_(None))
    .order_by(Patient.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)


def jsonable(value: Any) -> Any:
    """A column value as JSON (the snapshot and prior values live in JSON columns)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    return value


def patient_snapshot(patient: Patient) -> dict[str, Any]:
    return {
        attr.key: jsonable(getattr(patient, attr.key)) for attr in inspect(Patient).column_attrs
    }


def chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def bump(table: Table, now: datetime) -> dict[str, Any]:
    """The columns every re-pointing UPDATE also sets: a new version (optimistic locking)
    and ``updated_at``."""
    values: dict[str, Any] = {}
    if "version" in table.c:
        values["version"] = table.c.version + 1
    if "updated_at" in table.c:
        values["updated_at"] = now
    return values


@dataclass(slots=True)
class MovePlan:
    """What a merge does to the rows of one patient pair."""

    moved: dict[str, list[str]] = field(default_factory=dict)
    kept: dict[str, list[str]] = field(default_factory=dict)
    # table -> row id -> {"before": {col: value}, "version": version after the change}
    changed: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def note_change(
        self, table: Table, row_id: Any, before: dict[str, Any], version: int | None
    ) -> None:
        self.changed.setdefault(table.name, {})[str(row_id)] = {
            "before": {k: jsonable(v) for k, v in before.items()},
            "version": version,
        }


CollisionRule = Callable[..., None]


def _widen_care_team_period(
    *,
    session: Session,
    table: Table,
    kept_id: Any,
    survivor_row_id: Any,
    plan: MovePlan,
    now: datetime,
) -> None:
    """One care-team row per (team, patient): the survivor's row is widened to cover both
    periods, so the team keeps seeing the person as long as it saw either record."""
    rows = {
        r.id: r
        for r in session.execute(
            select(table.c.id, table.c.start_date, table.c.end_date, table.c.version).where(
                table.c.id.in_([kept_id, survivor_row_id])
            )
        )
    }
    mine, theirs = rows[survivor_row_id], rows[kept_id]
    starts = [mine.start_date, theirs.start_date]
    ends = [mine.end_date, theirs.end_date]
    start = None if None in starts else min(starts)
    end = None if None in ends else max(ends)
    if (start, end) == (mine.start_date, mine.end_date):
        return
    session.execute(
        update(table)
        .where(table.c.id == survivor_row_id)
        .values(start_date=start, end_date=end, **bump(table, now))
    )
    plan.note_change(
        table,
        survivor_row_id,
        {"start_date": mine.start_date, "end_date": mine.end_date},
        mine.version + 1,
    )


def _supersede_portal_account(
    *,
    session: Session,
    table: Table,
    kept_id: Any,
    survivor_row_id: Any,
    plan: MovePlan,
    now: datetime,
) -> None:
    """Both records have a portal sign-in: the survivor's stays; the other is disabled and
    names the survivor's account, so the patient can be told which one to use."""
    row = session.execute(
        select(table.c.status, table.c.superseded_by_id, table.c.version).where(
            table.c.id == kept_id
        )
    ).one()
    session.execute(
        update(table)
        .where(table.c.id == kept_id)
        .values(
            status=PortalAccountStatus.DISABLED.value,
            superseded_by_id=survivor_row_id,
            **bump(table, now),
        )
    )
    plan.note_change(
        table,
        kept_id,
        {"status": row.status, "superseded_by_id": row.superseded_by_id},
        row.version + 1,
    )


COLLISION_RULES: dict[str, CollisionRule] = {
    "care_team_patient": _widen_care_team_period,
    "portal_account": _supersede_portal_account,
}
"""Tables whose collisions need more than "the survivor's row wins, the other stays"."""


def _collisions(
    *, session: Session, owned: OwnedTable, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> dict[Any, Any]:
    """Merged-side row id -> the survivor's row it would collide with."""
    found: dict[Any, Any] = {}
    table = owned.table
    for key in owned.unique_keys:
        mine, theirs = table.alias("m"), table.alias("s")
        query = (
            select(mine.c.id, theirs.c.id)
            .select_from(mine)
            .join(
                theirs,
                and_(*(mine.c[c] == theirs.c[c] for c in key)) if key else theirs.c.id.isnot(None),
            )
            .where(mine.c.patient_id == merged_id, theirs.c.patient_id == survivor_id)
        )
        for merged_row, survivor_row in session.execute(query):
            found.setdefault(merged_row, survivor_row)
    return found


TABLES_PER_QUERY = 100  # UNION ALL branches per query: SQLite allows 500


def rows_of_patient(
    *, session: Session, tables: Sequence[OwnedTable], patient_id: uuid.UUID
) -> dict[str, list[Any]]:
    """Table name -> ids (sorted) of the patient's rows, for every table holding any.

    One UNION ALL over the tables instead of a query per table: a merge looks at some
    fifty tables and most hold nothing for a given patient, so the round trips were most
    of a merge's time."""
    found: dict[str, list[Any]] = {}
    for start in range(0, len(tables), TABLES_PER_QUERY):
        query = _rows_query(tuple(tables[start : start + TABLES_PER_QUERY]))
        for name, row_id in session.execute(query, {"of_patient": patient_id}):
            found.setdefault(name, []).append(row_id)
    return {name: sorted(ids) for name, ids in found.items()}


@functools.lru_cache(maxsize=16)
def _rows_query(tables: tuple[OwnedTable, ...]) -> Any:
    """Built once per table list: fifty SELECTs and their cache key took longer to build
    than the database took to answer them."""
    of_patient: BindParameter[uuid.UUID] = bindparam("of_patient")
    return union_all(
        *(
            select(literal(owned.name, String).label("table_name"), owned.table.c.id).where(
                owned.table.c.patient_id == of_patient
            )
            for owned in tables
        )
    )


@functools.lru_cache(maxsize=256)
def _move_query(table: Table) -> Any:
    """Re-point the rows ``ids`` of ``from_patient`` to ``to_patient`` (with
    :func:`bump`'s columns), built once per table."""
    values: dict[str, Any] = {"patient_id": bindparam("to_patient", type_=table.c.patient_id.type)}
    if "version" in table.c:
        values["version"] = table.c.version + 1
    if "updated_at" in table.c:
        values["updated_at"] = bindparam("now", type_=table.c.updated_at.type)
    return (
        update(table)
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
            table.c.patient_id == bindparam("from_patient"),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def move_rows(
    *,
    session: Session,
    tables: Sequence[OwnedTable],
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    now: datetime,
) -> MovePlan:
    """Re-point every row of ``merged_id`` to ``survivor_id``, applying collision rules."""
    plan = MovePlan()
    rows = rows_of_patient(session=session, tables=tables, patient_id=merged_id)
    for owned in tables:
        table = owned.table
        ids = rows.get(table.name)
        if not ids:
            continue
        collide = (
            _collisions(session=session, owned=owned, survivor_id=survivor_id, merged_id=merged_id)
            if owned.unique_keys
            else {}
        )
        for kept_id, survivor_row in collide.items():
            rule = COLLISION_RULES.get(table.name)
            if rule is not None:
                rule(
                    session=session,
                    table=table,
                    kept_id=kept_id,
                    survivor_row_id=survivor_row,
                    plan=plan,
                    now=now,
                )
            plan.kept.setdefault(table.name, []).append(str(kept_id))
        moving = [i for i in ids if i not in collide]
        for part in chunks(moving):
            params = {"ids": list(part), "from_patient": merged_id, "to_patient": survivor_id}
            session.execute(_move_query(table), {**params, "now": now})
        if moving:
            plan.moved[table.name] = [str(i) for i in moving]
    return plan


def expire_rows(session: Session, tables: Iterable[str]) -> None:
    """Core UPDATEs bypass the identity map: expire loaded objects of the touched tables so
    the caller reads the new patient_id and version, not stale copies."""
    names = set(tables)
    for obj in list(session.identity_map.values()):
        state = inspect(obj, raiseerr=False)
        table = getattr(state.mapper, "local_table", None) if state is not None else None
        if table is not None and table.name in names:
            session.expire(obj)


def _review_link(*, session: Session, link_id: uuid.UUID, pair: set[uuid.UUID]) -> IdentityLink:
    link = session.execute(_REVIEW_LINK, {"link_id": link_id}).scalar_one_or_none()
    if link is None or {link.patient_a_id, link.patient_b_id} != pair:
        raise MergeNotFound("link not found")
    if link.kind is not LinkKind.POSSIBLE_DUPLICATE:
        raise MergeConflict("only a possible-duplicate link can be merged")
    if link.status not in (LinkStatus.OPEN, LinkStatus.CONFIRMED):
        raise MergeConflict("this link was already decided")
    return link


_REVIEW_LINK = select(IdentityLink).where(IdentityLink.id == bindparam("link_id")).with_for_update()


def _close_pair_query() -> Any:
    one: BindParameter[uuid.UUID] = bindparam("one")
    other: BindParameter[uuid.UUID] = bindparam("other")
    return (
        update(IdentityLink)
        .where(
            IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
            IdentityLink.status == LinkStatus.OPEN,
            ((IdentityLink.patient_a_id == one) & (IdentityLink.patient_b_id == other))
            | ((IdentityLink.patient_a_id == other) & (IdentityLink.patient_b_id == one)),
        )
        .values(
            status=LinkStatus.CONFIRMED,
            decided_by_id=bindparam("decided_by", type_=IdentityLink.decided_by_id.type),
            decided_at=bindparam("decided_at", type_=IdentityLink.decided_at.type),
            version=IdentityLink.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


_CLOSE_PAIR = _close_pair_query()


def _close_pair_suggestions(
    *, session: Session, pair: set[uuid.UUID], decided_by: uuid.UUID | None, now: datetime
) -> None:
    """Open suggestions for the same pair (either order) are decided by the merge."""
    one, other = sorted(pair)
    params = {"one": one, "other": other, "decided_by": decided_by, "decided_at": now}
    session.execute(_CLOSE_PAIR, params)


def audit_pair(
    *,
    session: Session,
    principal: Principal | None,
    policy: CompiledPolicy,
    patient_ids: Sequence[uuid.UUID],
    record_types: Iterable[str],
    purpose: str,
    now: datetime,
) -> None:
    """One ``update`` event per patient: names and ids only, never values or the reason."""
    audit.record_each(
        session=session,
        principal=principal,
        action=AuditAction.UPDATE,
        patient_ids=patient_ids,
        record_types=sorted(set(record_types)),
        purpose=purpose,
        policy_version=policy.version,
        actor_username=None if principal is not None else "system",
        now=now,
    )


def merge_patients(
    *,
    session: Session,
    principal: Principal | None,
    policy: CompiledPolicy,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    reason: str,
    link_id: uuid.UUID | None = None,
    now: datetime,
    method: LinkMethod = LinkMethod.MANUAL,
    metadata: MetaData | None = None,
) -> MergeRecord:
    """Fold ``merged_id`` into ``survivor_id`` (see the module docstring); returns the
    :class:`MergeRecord`, whose ``link_id`` is the ``merged_into`` link to unmerge by.

    ``principal=None`` is the system applying an automatic link (no scope check);
    ``metadata`` lets a test add a table and prove it is moved without code changes.
    """
    require_capability(principal, policy)
    reason = clean_reason(reason)
    if survivor_id == merged_id:
        raise MergeInputError("merged_id", "a patient cannot be merged into itself")
    session.flush()
    patients = lock_patients(
        session=session, principal=principal, patient_ids=(survivor_id, merged_id), now=now
    )
    if survivor_id not in patients or merged_id not in patients:
        raise MergeNotFound("patient not found")
    survivor, merged = patients[survivor_id], patients[merged_id]
    if merged.status is PatientStatus.MERGED or survivor.status is PatientStatus.MERGED:
        raise MergeConflict("one of these records was already merged")
    pair = {survivor_id, merged_id}
    review = None if link_id is None else _review_link(session=session, link_id=link_id, pair=pair)
    actor = principal.subject_id if principal is not None else None

    tables = owned_tables(metadata)
    snapshot = patient_snapshot(merged)
    plan = move_rows(
        session=session, tables=tables, survivor_id=survivor_id, merged_id=merged_id, now=now
    )
    merged.status = PatientStatus.MERGED
    link = IdentityLink(
        id=uuid.uuid4(),
        patient_a_id=merged_id,
        patient_b_id=survivor_id,
        kind=LinkKind.MERGED_INTO,
        status=LinkStatus.CONFIRMED,
        method=method,
        score=review.score if review is not None else None,
        match_evidence=dict(review.match_evidence) if review is not None else {},
        matcher_version=review.matcher_version if review is not None else None,
        reason=reason,
        created_by_id=actor,
        decided_by_id=actor,
        decided_at=now,
    )
    session.add(link)
    if review is not None:
        review.status = LinkStatus.CONFIRMED
        review.decided_by_id = review.decided_by_id or actor
        review.decided_at = review.decided_at or now
    session.flush()
    _close_pair_suggestions(session=session, pair=pair, decided_by=actor, now=now)
    record = MergeRecord(
        id=uuid.uuid4(),
        link_id=link.id,
        survivor_id=survivor_id,
        merged_id=merged_id,
        moved_records=plan.moved,
        merged_snapshot={
            "patient": snapshot,
            "kept": plan.kept,
            "changed": plan.changed,
            "review_link_id": str(review.id) if review is not None else None,
        },
        merged_at=now,
        merged_by_id=actor,
    )
    session.add(record)
    session.flush()
    names = record_type_names(metadata)
    touched = set(plan.moved) | set(plan.kept) | set(plan.changed)
    audit_pair(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=(survivor_id, merged_id),
        record_types={"Patient", "IdentityLink", "MergeRecord"}
        | {names.get(t, "Patient") for t in touched},
        purpose="merge",
        now=now,
    )
    expire_rows(session, touched)
    # Rows moved between the two records: the matcher's index must follow them.
    from backend.mpi.records import refresh_keys  # the matcher imports this module

    refresh_keys(session, (survivor_id, merged_id), now=now)
    return record


def _pending_query(*, between_pair: bool) -> Select[tuple[IdentityLink, datetime, datetime]]:
    """The pending links, each with its two patients' ``recorded_at`` (which survives)."""
    a, b = aliased(Patient), aliased(Patient)
    query = (
        select(IdentityLink, a.recorded_at, b.recorded_at)
        .join(a, a.id == IdentityLink.patient_a_id)
        .join(b, b.id == IdentityLink.patient_b_id)
        .where(
            IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
            IdentityLink.status == LinkStatus.CONFIRMED,
            IdentityLink.method.in_([LinkMethod.AUTOMATIC, LinkMethod.RULE]),
            a.status != PatientStatus.MERGED,
            b.status != PatientStatus.MERGED,
            a.deleted_at.is_(None),
            b.deleted_at.is_(None),
        )
        .order_by(IdentityLink.recorded_at, IdentityLink.id)
        .limit(bindparam("limit"))
    )
    if between_pair:
        one: BindParameter[uuid.UUID] = bindparam("one")
        other: BindParameter[uuid.UUID] = bindparam("other")
        query = query.where(
            or_(
                and_(IdentityLink.patient_a_id == one, IdentityLink.patient_b_id == other),
                and_(IdentityLink.patient_a_id == other, IdentityLink.patient_b_id == one),
            )
        )
    return query


# Built once: building and cache-keying the statement (two aliases) cost about thirty
# times what the database spends answering it, once or twice per merge.
_PENDING = _pending_query(between_pair=False)
_PENDING_PAIR = _pending_query(between_pair=True)


def _pending(
    session: Session, *, limit: int, pair: tuple[uuid.UUID, uuid.UUID] | None
) -> list[tuple[IdentityLink, datetime, datetime]]:
    if pair is None:
        return list(session.execute(_PENDING, {"limit": limit}).tuples())
    params = {"limit": limit, "one": pair[0], "other": pair[1]}
    return list(session.execute(_PENDING_PAIR, params).tuples())


def pending_automatic_links(
    session: Session, *, limit: int, pair: tuple[uuid.UUID, uuid.UUID] | None = None
) -> list[IdentityLink]:
    """Links the matcher confirmed on its own (``confirmed``, automatic or rule) whose two
    records are both still unmerged: each should become a merge. ``pair``: only a link
    between these two (an index lookup; without it every confirmed link ever made is
    looked at, merged ones included)."""
    return [link for link, _, _ in _pending(session, limit=limit, pair=pair)]


def apply_automatic_links(
    *,
    session: Session,
    policy: CompiledPolicy,
    now: datetime,
    limit: int = 100,
    pair: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> list[MergeRecord]:
    """Turn the matcher's automatic links (``pair``: the one between these two) into
    merges. The older record (first recorded) survives: the newcomer folds into the
    record staff already know."""
    records = []
    for link, a_recorded, b_recorded in _pending(session, limit=limit, pair=pair):
        # First recorded, then the smaller id: the order the database sorts them in.
        first, second = sorted([(a_recorded, link.patient_a_id), (b_recorded, link.patient_b_id)])
        records.append(
            merge_patients(
                session=session,
                principal=None,
                policy=policy,
                survivor_id=first[1],
                merged_id=second[1],
                reason="automatic link by the patient matcher",
                link_id=link.id,
                now=now,
                method=link.method,
            )
        )
    return records
