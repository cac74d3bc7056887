"""Append to and verify the hash-chained audit trail.

Each row's ``hash`` is sha256 over a canonical JSON of its content (``seq`` included)
and the previous row's hash, so altering a row breaks its own hash, deleting one leaves
a gap in ``seq`` and a broken ``prev_hash`` link, and swapping two rows breaks both.
The chain head (one row) is locked before each append, so concurrent writers take turns.
The trail holds names and ids, never patient data values: :func:`record` refuses
anything in a name list that does not look like an identifier.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.access.models import (
    GENESIS_HASH,
    AuditAction,
    AuditChainHead,
    AuditEvent,
    AuditOutcome,
)
from backend.access.principal import Principal

HEAD_ID = 1
# "Type", "Type.field" or "Type.field:rule": anything else could be a value sneaking in.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?(:[A-Za-z0-9_:.-]+)?$")
_SHORT = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,128}$")

HASHED_COLUMNS = (
    "seq",
    "id",
    "occurred_at",
    "actor_id",
    "actor_kind",
    "actor_username",
    "roles",
    "patient_id",
    "action",
    "outcome",
    "record_types",
    "fields",
    "masked_fields",
    "purpose",
    "request_id",
    "client",
    "address",
    "policy_version",
    "break_glass",
    "break_glass_grant_id",
    "prev_hash",
)


class AuditValueError(ValueError):
    """An audit argument looked like data rather than a name; the value is not echoed."""


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def event_hash(row: Any) -> str:
    """The hash of an :class:`AuditEvent` (or a Core row of its table)."""
    content = {name: _canonical(getattr(row, name)) for name in HASHED_COLUMNS}
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _names(values: Iterable[str], what: str) -> list[str]:
    names = sorted(set(values))
    for name in names:
        if not isinstance(name, str) or len(name) > 160 or not _NAME.match(name):
            raise AuditValueError(f"audit {what} must be record or field names")
    return names


def is_short_token(value: str) -> bool:
    """Whether ``value`` is acceptable as a short audit token (actor, client, purpose ...)."""
    return bool(_SHORT.match(value))


def _short(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not _SHORT.match(value):
        raise AuditValueError(f"audit {what} must be a short token")
    return value


# Built once: building and cache-keying an ORM UPDATE cost more than its round trip,
# and it runs before every append (a merge's audit rows included).
_LOCK_HEAD = (
    update(AuditChainHead)
    .where(AuditChainHead.id == HEAD_ID)
    .values(seq=AuditChainHead.seq)
    .returning(AuditChainHead)
    .execution_options(synchronize_session=False, populate_existing=True)
)


def _lock_head(session: Session) -> AuditChainHead:
    """Lock the chain head and read it in one statement: an UPDATE takes PostgreSQL's row
    lock and SQLite's write lock at once, where a plain SELECT would let two writers read
    the same head; RETURNING hands back the row it locked (no SELECT after it)."""
    head = session.execute(_LOCK_HEAD).scalar_one_or_none()
    if head is not None:
        return head
    try:  # the first append ever: create the head
        with session.begin_nested():
            session.add(AuditChainHead(id=HEAD_ID, seq=0, hash=GENESIS_HASH))
    except IntegrityError:  # another writer created it first; now wait for its lock
        pass
    return session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def record(
    *,
    session: Session,
    principal: Principal | None,
    action: AuditAction,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    patient_id: uuid.UUID | None = None,
    record_types: Iterable[str] = (),
    fields: Iterable[str] = (),
    masked_fields: Iterable[str] = (),
    purpose: str | None = None,
    request_id: str | None = None,
    client: str | None = None,
    address: str | None = None,
    policy_version: str | None = None,
    break_glass: bool | None = None,
    break_glass_grant_id: uuid.UUID | None = None,
    actor_username: str | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one audit event in the caller's transaction (it commits with the work).

    ``break_glass=None`` flags the row when the principal holds an active grant for
    ``patient_id``; ``actor_username`` overrides the principal's (failed logins have no
    principal). ``masked_fields`` are ``"Type.field:rule"`` strings.
    """
    return record_each(
        session=session,
        principal=principal,
        action=action,
        outcome=outcome,
        patient_ids=[patient_id],
        record_types=record_types,
        fields=fields,
        masked_fields=masked_fields,
        purpose=purpose,
        request_id=request_id,
        client=client,
        address=address,
        policy_version=policy_version,
        break_glass=break_glass,
        break_glass_grant_id=break_glass_grant_id,
        actor_username=actor_username,
        now=now,
    )[0]


def record_each(
    *,
    session: Session,
    principal: Principal | None,
    action: AuditAction,
    patient_ids: Iterable[uuid.UUID | None],
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    record_types: Iterable[str] = (),
    fields: Iterable[str] = (),
    masked_fields: Iterable[str] = (),
    purpose: str | None = None,
    request_id: str | None = None,
    client: str | None = None,
    address: str | None = None,
    policy_version: str | None = None,
    break_glass: bool | None = None,
    break_glass_grant_id: uuid.UUID | None = None,
    actor_username: str | None = None,
    now: datetime | None = None,
) -> list[AuditEvent]:
    """:func:`record` for several patients at once, one event each, in order: one lock
    of the chain head and one flush for all (a merge audits both of its records)."""
    when = now or datetime.now(UTC)
    common: dict[str, Any] = {
        "occurred_at": when,
        "actor_id": principal.subject_id if principal else None,
        "actor_kind": principal.kind.value if principal else None,
        "actor_username": _short(
            actor_username or (principal.username if principal else None), "actor"
        ),
        "roles": sorted(principal.roles) if principal else [],
        "action": action,
        "outcome": outcome,
        "record_types": _names(record_types, "record types"),
        "fields": _names(fields, "fields"),
        "masked_fields": _names(masked_fields, "masked fields"),
        "purpose": _short(purpose, "purpose"),
        "request_id": _short(request_id, "request id"),
        "client": _short(client, "client"),
        "address": _short(address or (principal.client_address if principal else None), "address"),
        "policy_version": _short(policy_version, "policy version"),
    }
    head = _lock_head(session)
    rows: list[AuditEvent] = []
    for patient_id in patient_ids:
        grant = None
        if principal is not None and patient_id is not None:
            grant = principal.break_glass_for(patient_id, when)
        grant_id = break_glass_grant_id or (grant.grant_id if grant is not None else None)
        flagged = grant_id is not None if break_glass is None else break_glass
        row = AuditEvent(
            seq=head.seq + 1,
            id=uuid.uuid4(),
            patient_id=patient_id,
            break_glass=flagged,
            break_glass_grant_id=grant_id if flagged else None,
            prev_hash=head.hash,
            **common,
        )
        row.hash = event_hash(row)
        session.add(row)
        head.seq, head.hash = row.seq, row.hash
        rows.append(row)
    session.flush()
    return rows


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: str  # altered | broken_link | gap | head_mismatch


@dataclass(slots=True)
class VerifyResult:
    checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(session: Session, batch: int) -> Iterator[Any]:
    # Core rows, not ORM objects: verification must not touch the caller's identity map.
    table = AuditEvent.__table__
    last = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session, *, batch: int = 5000, max_problems: int = 100) -> VerifyResult:
    """Walk the whole chain in ``seq`` order and report every break found."""
    result = VerifyResult()
    expected_seq, prev = 1, GENESIS_HASH

    def problem(seq: int, kind: str) -> None:
        if len(result.problems) < max_problems:
            result.problems.append(ChainProblem(seq, kind))

    for row in _rows(session, batch):
        result.checked += 1
        if row.seq != expected_seq:
            problem(row.seq, "gap")
        if row.prev_hash != prev:
            problem(row.seq, "broken_link")
        if event_hash(row) != row.hash:
            problem(row.seq, "altered")
        expected_seq, prev = row.seq + 1, row.hash
    head = session.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
    ).first()
    last_seq = expected_seq - 1
    if head is None:
        if result.checked:
            problem(last_seq, "head_mismatch")
    elif head.seq != last_seq or head.hash != prev:
        # rows removed from the end of the chain (or the head itself rewritten)
        problem(head.seq, "head_mismatch")
    return result
