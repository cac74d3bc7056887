"""The write side of the access layer: who may change which fields of whose records.

Every staff change goes through these steps, in this order, inside one transaction:

1. :func:`require_write`: a staff caller (a token must also carry ``patients:write``)
   whose roles may ``write`` every field the change sets, per the compiled policy.
   Refused as :class:`Forbidden`, naming the fields but no record: it depends only on
   the caller's roles, so it discloses nothing about any patient.
2. :func:`require_patient` / :func:`load_for_update`: the patient (or the record and
   its patient) exists, is not deleted, is in the caller's row scope and passes the
   record rules (psychotherapy notes, Part 2). Anything else is :class:`NotFound`,
   exactly like an id that never existed.
3. :func:`check_version`: the caller's ``version`` is the one stored, else
   :class:`Conflict`; :func:`flush_changes` turns a concurrent writer that won the race
   (SQLAlchemy's ``StaleDataError`` from the version-checked UPDATE) into a Conflict too.
4. :func:`audit_change`: one ``create``/``update`` event naming record types and
   ``Type.field``s, never values. A change refused at step 1 or 2 is audited too
   (:func:`audit_refusal`, written by the GraphQL schema's audit extension after the
   refused transaction rolled back).
5. :func:`written_view`: the record as the caller may *read* it, masked like any read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from backend.access import audit
from backend.access.listing import build_view, view_fields
from backend.access.masking import denied_writes, mask_plan
from backend.access.models import AuditAction, AuditOutcome
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal, PrincipalKind
from backend.access.scoping import can_see_patient
from backend.access.sensitivity import load_patient_access, record_rule
from backend.common.errors import Conflict, Forbidden, NotFound

V = TypeVar("V")
M = TypeVar("M")

WRITE_SCOPE = "patients:write"
CONFLICT_MESSAGE = "The record was changed by someone else; reload it and try again."


def require_write(
    *,
    policy: CompiledPolicy,
    principal: Principal,
    changes: Mapping[str, Iterable[str]],
) -> None:
    """Refuse unless the caller may write every field in ``changes`` (record type ->
    column names)."""
    if principal.kind is not PrincipalKind.STAFF:
        raise Forbidden("only staff accounts make this change")
    # Browser sessions carry no scopes; a bearer token is limited to what it was issued for.
    if principal.token_id is not None and WRITE_SCOPE not in principal.scopes:
        raise Forbidden(
            f"this token lacks the {WRITE_SCOPE} scope", refused=[f"token_scope:{WRITE_SCOPE}"]
        )
    denied = [
        f"{record_type}.{w.field}"
        for record_type, fields in changes.items()
        for w in denied_writes(
            policy=policy, principal=principal, record_type=record_type, fields=fields
        )
    ]
    if denied:
        shown = ", ".join(sorted(denied)[:5]) + (" ..." if len(denied) > 5 else "")
        raise Forbidden(f"your roles may not change {shown}", refused=denied)


def require_capability(*, policy: CompiledPolicy, principal: Principal, capability: str) -> None:
    if not principal_may(policy, principal, capability):
        raise Forbidden(
            f"this change needs the {capability} permission", refused=[f"capability.{capability}"]
        )


def require_patient(
    *, session: Session, principal: Principal, patient_id: uuid.UUID, now: datetime
) -> None:
    """The patient exists and is in scope; otherwise NotFound, whichever it was."""
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        raise NotFound()


def load_for_update(
    *,
    session: Session,
    principal: Principal,
    model: type[M],
    record_id: uuid.UUID,
    now: datetime,
) -> M:
    """The live record with this id, if the caller may see it. Not locked: optimistic
    locking is the version-checked UPDATE (:func:`flush_changes`)."""
    row: Any = session.execute(
        select(model).where(model.id == record_id, model.deleted_at.is_(None))  # type: ignore[attr-defined]
    ).scalar_one_or_none()
    if row is None:
        raise NotFound()
    require_patient(session=session, principal=principal, patient_id=row.patient_id, now=now)
    access = load_patient_access(
        session=session, principal=principal, patient_ids=[row.patient_id], now=now
    )[row.patient_id]
    rule = record_rule(
        principal=principal, sensitivity=row.sensitivity, author_id=row.author_id, access=access
    )
    if rule is not None:  # a record the caller may not read cannot be theirs to change
        raise NotFound()
    found: M = row
    return found


def check_version(row: Any, version: int) -> None:
    """The caller read ``version``; refuse if the record has moved on since."""
    if row.version != version:
        raise Conflict(CONFLICT_MESSAGE)


def flush_changes(session: Session) -> None:
    """Flush; a version-checked UPDATE that matched no row lost a race: Conflict."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(CONFLICT_MESSAGE) from None


def changed_fields(row: Any, values: dict[str, Any]) -> list[str]:
    """The keys of ``values`` whose value differs from the row's."""
    return [name for name, value in values.items() if getattr(row, name) != value]


def audit_change(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    action: AuditAction,
    patient_id: uuid.UUID,
    changes: Mapping[str, Iterable[str]],
    request_id: str | None,
    now: datetime,
) -> None:
    """One audit event for the change: record types and ``Type.field`` names only."""
    audit.record(
        session=session,
        principal=principal,
        action=action,
        patient_id=patient_id,
        record_types=list(changes),
        fields=[f"{t}.{f}" for t, fields in changes.items() for f in fields],
        policy_version=policy.version,
        request_id=request_id,
        now=now,
    )


def add_audited(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    row: Any,
    changes: Mapping[str, Iterable[str]],
    request_id: str | None,
    now: datetime,
) -> None:
    """Add a checked new patient record, flush (a lost race is a Conflict) and audit its
    creation with the record types and fields in ``changes``."""
    session.add(row)
    flush_changes(session)
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.CREATE,
        patient_id=row.patient_id,
        changes=changes,
        request_id=request_id,
        now=now,
    )


def insert_record(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    row: Any,
    changes: Mapping[str, Iterable[str]],
    view: type[V],
    request_id: str | None,
    now: datetime,
) -> V:
    """Add a checked new record, audit its creation and return it as the caller may
    read it: the last three steps every create mutation shares, in this order."""
    add_audited(
        session=session,
        principal=principal,
        policy=policy,
        row=row,
        changes=changes,
        request_id=request_id,
        now=now,
    )
    return written_view(
        session=session, principal=principal, policy=policy, row=row, view=view, now=now
    )


def written_view(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    row: Any,
    view: type[V],
    now: datetime,
) -> V:
    """The written record as the caller may read it: the stored columns (defaults
    included), masked by the read policy and the record rules."""
    model = type(row)
    table = model.__table__
    names = view_fields(view)
    stored = session.execute(select(*(table.c[n] for n in names)).where(table.c.id == row.id)).one()
    plan = mask_plan(policy=policy, principal=principal, record_type=model.__name__)
    access = load_patient_access(
        session=session, principal=principal, patient_ids=[row.patient_id], now=now
    )[row.patient_id]
    rule = record_rule(
        principal=principal, sensitivity=row.sensitivity, author_id=row.author_id, access=access
    )
    values = stored._asdict()
    return build_view(view, plan.mask(values, record_rule=rule), id=values["id"])


def audit_refusal(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    action: AuditAction,
    outcome: AuditOutcome,
    operation: str,
    refused: Iterable[str] = (),
    request_id: str | None,
    now: datetime,
    client: str | None = None,
) -> None:
    """One audit event for a change that was refused: by the policy (``denied``: the
    capability or ``Type.field``s the caller lacks, in ``fields``) or by scope
    (``not_found``: the record is missing or not the caller's to see, which the trail,
    like the caller, does not tell apart). ``operation`` is what was asked
    (``Mutation.createTask``, ``Fhir.importBundle``); no id, no input value goes in.
    ``client`` names the channel when it is not the API (``fhir-bulk`` for the export
    command, ``fhir`` for ``POST /fhir``, ``portal`` for portal forms)."""
    audit.record(
        session=session,
        principal=principal,
        action=action,
        outcome=outcome,
        record_types=[operation.partition(".")[0]],
        fields=[operation, *refused],
        policy_version=policy.version,
        request_id=request_id,
        client=client,
        now=now,
    )
