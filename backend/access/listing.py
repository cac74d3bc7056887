"""One read path for every per-patient record type: scope, record rules, field masks.

A domain service lists a category (conditions, appointments, ...) for many patients at
once with :func:`list_patient_records`: one SQL query for the rows whatever the number
of patients or records (plus the record-rule lookups, once per request), so a GraphQL DataLoader can
batch a page of patients into one call and the statement count never grows with the data.

* Row scope: :func:`~backend.access.scoping.patient_scope`, decided once per request
  for the patients asked about (:meth:`~backend.access.reads.ReadLog.in_scope`).
* Record rules: psychotherapy notes and Part 2 records the caller may not see are left
  out in SQL (:func:`~backend.access.sensitivity.sensitivity_filter`, on facts decided
  once per request: :meth:`~backend.access.reads.ReadLog.patient_access`), not returned as
  masked stubs: a stub's mere existence would disclose that the patient has, say, a
  substance-use record, which is what Part 2 forbids.
* Field masks: one :class:`~backend.access.masking.MaskPlan` per call.

Views are frozen dataclasses whose field names are the table's column names.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from backend.access.masking import MaskedRecord, mask_plan
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.access.scoping import patient_scope, patients_in_scope
from backend.access.sensitivity import PatientAccess, load_patient_access, sensitivity_filter
from backend.common.mixins import utcnow

V = TypeVar("V")


def view_fields(cls: type[Any]) -> tuple[str, ...]:
    """The column names a view carries (everything but ``withheld``)."""
    return tuple(f.name for f in fields(cls) if f.name != "withheld")


def build_view(cls: type[V], masked: MaskedRecord, **extra: Any) -> V:
    """A view from a masked record whose keys are the view's column fields; ``id`` is
    put back if a field group withheld it (the caller already holds it)."""
    values = dict(masked.values)
    values["id"] = extra.pop("id")
    withheld = tuple(w for w in masked.withheld if w.field != "id")
    made: V = cast("Any", cls)(**values, withheld=withheld, **extra)
    return made


def readable_rows(
    model: Any, *, principal: Principal, now: datetime, access: Mapping[uuid.UUID, PatientAccess]
) -> list[ColumnElement[bool]]:
    """The WHERE clauses every read of ``model`` rows carries: not deleted, in the
    caller's row scope, and not held back by a record rule (psychotherapy, Part 2,
    restricted; ``access`` from :func:`load_patient_access` for the patients read)."""
    return [
        model.deleted_at.is_(None),
        patient_scope(model.patient_id, principal=principal, now=now),
        sensitivity_filter(model, principal=principal, access=access),
    ]


def list_patient_records(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    model: Any,
    view: type[V],
    patient_ids: Iterable[uuid.UUID],
    order_by: Sequence[Any],
    log: ReadLog | None = None,
    now: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[uuid.UUID, list[V]] | None:
    """Each patient's records of ``model`` as ``view``s, masked; ``None`` when the
    caller may read no field of the type at all (the category is withheld).

    Reads are noted in ``log`` (the request's, audited when the request ends); without
    one, the reads are audited here, in ``session``, before returning.
    """
    now = now or utcnow()
    if log is not None:
        return _list(
            session, principal, policy, model, view, patient_ids, order_by, log, now, where
        )
    own = ReadLog()
    found = _list(session, principal, policy, model, view, patient_ids, order_by, own, now, where)
    own.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return found


def _list(
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    model: Any,
    view: type[V],
    patient_ids: Iterable[uuid.UUID],
    order_by: Sequence[Any],
    log: ReadLog,
    now: datetime,
    where: Sequence[ColumnElement[bool]],
) -> dict[uuid.UUID, list[V]] | None:
    record_type = model.__name__
    plan = mask_plan(policy=policy, principal=principal, record_type=record_type)
    if plan.sees_nothing:
        return None
    ids = sorted(set(patient_ids))
    found: dict[uuid.UUID, list[V]] = defaultdict(list)
    if not ids:
        return found
    # Row scope once per request (cached in the read log), then plain ids in SQL.
    scoped = log.in_scope(
        ids,
        lambda missing: patients_in_scope(
            session=session, principal=principal, patient_ids=missing, now=now
        ),
    )
    ids = [pid for pid in ids if pid in scoped]
    if not ids:
        return found
    names = view_fields(view)
    table = model.__table__
    access = log.patient_access(
        ids,
        lambda missing: load_patient_access(
            session=session, principal=principal, patient_ids=missing, now=now
        ),
    )
    rows = session.execute(
        select(table.c.patient_id.label("_owner"), *(table.c[n] for n in names))
        .where(
            model.patient_id.in_(ids),
            model.deleted_at.is_(None),
            sensitivity_filter(model, principal=principal, access=access),
            *where,
        )
        .order_by(model.patient_id, *order_by)
    ).all()
    readable = plan.allowed & set(names)
    for row in rows:
        values = row._asdict()
        owner = values.pop("_owner")
        masked = plan.mask(values)
        found[owner].append(build_view(view, masked, id=values["id"]))
        log.note(
            patient_id=owner, record_type=record_type, fields=readable, withheld=masked.withheld
        )
    return found
