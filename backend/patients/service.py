"""Patient use cases for every transport: read one patient, search patients.

Row scope comes from :mod:`backend.access.scoping` (out of scope answers exactly like
"no such patient"), field masks from one :class:`~backend.access.masking.MaskPlan` per
record type per call, and every read is noted for the audit trail
(:mod:`backend.access.reads`). Queries select plain columns (no ORM objects): the
column names are the policy's field names, so masking is one dict pass per row.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, or_, select
from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.masking import GROUP_RULE_PREFIX, MaskPlan, Withheld, mask_plan
from backend.access.models import AuditOutcome
from backend.access.policy import UNASSIGNED, CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog, note_read
from backend.access.scoping import visible_patients
from backend.access.sensitivity import consented_contact_filter
from backend.common.errors import InvalidInput
from backend.common.mixins import utcnow
from backend.identity.routing import resolve_survivor
from backend.patients.models import Address, ContactPoint, Patient, PatientStatus
from backend.patients.records import (
    AddressView,
    ContactPointView,
    PatientPage,
    PatientView,
    build_view,
    view_fields,
)
from backend.patients.search import MAX_SEARCH_CHARS, search_clause
from backend.record.categories import record_types

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

CATEGORIES: Mapping[str, str] = record_types()
"""Patient fields that are whole record types (from :mod:`backend.record.categories`):
withheld as a category when the caller may read no field of the type (the list would
otherwise look empty)."""

PATIENT_FIELDS = tuple(
    f for f in view_fields(PatientView) if f not in ("contact_points", "addresses")
)
CONTACT_FIELDS = view_fields(ContactPointView)
ADDRESS_FIELDS = view_fields(AddressView)


class PatientInputError(InvalidInput):
    """A bad page size, cursor or search text: answered as BAD_USER_INPUT."""


def _columns(model: Any, names: Iterable[str]) -> list[Any]:
    table = model.__table__
    return [table.c[name] for name in names]


def category_withheld(
    *, policy: CompiledPolicy, principal: Principal, categories: Mapping[str, str] = CATEGORIES
) -> tuple[Withheld, ...]:
    """Categories of the record the caller may not read at all, with the group's rule."""
    found = []
    for field, record_type in categories.items():
        plan = mask_plan(policy=policy, principal=principal, record_type=record_type)
        if plan.sees_nothing:
            group = policy.group_of(record_type, "id") or UNASSIGNED
            found.append(Withheld(field, GROUP_RULE_PREFIX + group))
    return tuple(found)


def _contacts(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Sequence[uuid.UUID],
    log: ReadLog,
    now: datetime,
) -> tuple[dict[uuid.UUID, list[ContactPointView]], dict[uuid.UUID, list[AddressView]]]:
    """Contact points and addresses of many patients, in a fixed number of queries."""
    common: dict[str, Any] = {
        "session": session,
        "principal": principal,
        "policy": policy,
        "patient_ids": patient_ids,
        "log": log,
        "now": now,
    }
    points = list_patient_records(
        model=ContactPoint,
        view=ContactPointView,
        order_by=(ContactPoint.system, ContactPoint.rank, ContactPoint.id),
        where=[consented_contact_filter(ContactPoint, policy=policy, principal=principal)],
        **common,
    )
    places = list_patient_records(
        model=Address,
        view=AddressView,
        order_by=(Address.use, Address.id),
        where=[consented_contact_filter(Address, policy=policy, principal=principal)],
        **common,
    )
    return points or {}, places or {}


def _patient_views(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    rows: Sequence[RowMapping],
    log: ReadLog,
    now: datetime,
) -> list[PatientView]:
    plan: MaskPlan = mask_plan(policy=policy, principal=principal, record_type="Patient")
    ids = [row["id"] for row in rows]
    points, places = _contacts(
        session=session, principal=principal, policy=policy, patient_ids=ids, log=log, now=now
    )
    categories = category_withheld(policy=policy, principal=principal)
    views = []
    for row in rows:
        masked = plan.mask(dict(row))
        view: PatientView = build_view(
            PatientView,
            masked,
            id=row["id"],
            contact_points=tuple(points.get(row["id"], ())),
            addresses=tuple(places.get(row["id"], ())),
        )
        if categories:
            view = _with_withheld(view, categories)
        views.append(view)
        log.note(
            patient_id=row["id"],
            record_type="Patient",
            fields=plan.allowed & set(PATIENT_FIELDS),
            withheld=view.withheld,
        )
    return views


def _with_withheld(view: PatientView, extra: tuple[Withheld, ...]) -> PatientView:
    return replace(view, withheld=view.withheld + extra)


def get_patient(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    now: datetime | None = None,
    log: ReadLog | None = None,
) -> PatientView | None:
    """One patient as the caller may see it; None when absent *or* out of scope.
    A merged patient's id answers with the record it was merged into."""
    now = now or utcnow()
    patient_id = resolve_survivor(session, patient_id)
    row = (
        session.execute(
            select(*_columns(Patient, PATIENT_FIELDS)).where(
                Patient.id == patient_id, visible_patients(principal=principal, now=now)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        # The id is recorded (it is no patient data): repeated misses show IDOR probing.
        note_read(
            session=session,
            principal=principal,
            policy=policy,
            log=log,
            patient_id=patient_id,
            record_type="Patient",
            outcome=AuditOutcome.NOT_FOUND,
            now=now,
        )
        return None
    target = log if log is not None else ReadLog()
    views = _patient_views(
        session=session, principal=principal, policy=policy, rows=[row], log=target, now=now
    )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return views[0]


def encode_cursor(patient_id: uuid.UUID) -> str:
    """Opaque cursor: the last patient's id only, so no name rides in a URL or log."""
    return base64.urlsafe_b64encode(b"patient:" + patient_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PatientInputError("after", "invalid cursor") from exc
    if not raw.startswith(b"patient:") or len(raw) != len(b"patient:") + 16:
        raise PatientInputError("after", "invalid cursor")
    return uuid.UUID(bytes=raw[len(b"patient:") :])


def _after(
    *, session: Session, principal: Principal, cursor: str, now: datetime
) -> ColumnElement[bool]:
    """Keyset condition after the cursor's patient, looked up *within scope* so a cursor
    made from someone else's patient id reveals nothing about where they sort."""
    anchor_id = decode_cursor(cursor)
    anchor = session.execute(
        select(Patient.family_name, Patient.given_name, Patient.id).where(
            Patient.id == anchor_id, visible_patients(principal=principal, now=now)
        )
    ).first()
    if anchor is None:
        raise PatientInputError("after", "invalid cursor")
    family, given, pid = anchor
    return or_(
        Patient.family_name > family,
        and_(Patient.family_name == family, Patient.given_name > given),
        and_(Patient.family_name == family, Patient.given_name == given, Patient.id > pid),
    )


def search_patients(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    text: str | None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    now: datetime | None = None,
    log: ReadLog | None = None,
) -> PatientPage:
    """Patients in scope matching ``text`` (name, birth date, phone, e-mail, identifier),
    ordered by family and given name, ``first`` at most :data:`MAX_PAGE_SIZE`."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise PatientInputError("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    text = (text or "").strip()
    if len(text) > MAX_SEARCH_CHARS:
        raise PatientInputError("search", f"is limited to {MAX_SEARCH_CHARS} characters")
    now = now or utcnow()
    query = select(*_columns(Patient, PATIENT_FIELDS)).where(
        visible_patients(principal=principal, now=now),
        Patient.status != PatientStatus.MERGED,  # found through the survivor instead
    )
    if text:
        query = query.where(search_clause(text))
    if after is not None:
        query = query.where(_after(session=session, principal=principal, cursor=after, now=now))
    query = query.order_by(Patient.family_name, Patient.given_name, Patient.id).limit(first + 1)
    rows = session.execute(query).mappings().all()
    page = rows[:first]
    target = log if log is not None else ReadLog()
    views = _patient_views(
        session=session, principal=principal, policy=policy, rows=page, log=target, now=now
    )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return PatientPage(
        patients=tuple(views),
        cursors=tuple(encode_cursor(v.id) for v in views),
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
    )


def get_patients(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Sequence[uuid.UUID],
    now: datetime | None = None,
    log: ReadLog | None = None,
) -> dict[uuid.UUID, PatientView]:
    """Several patients as the caller may see them, in a fixed number of queries; ids
    absent or out of scope are simply missing from the answer."""
    now = now or utcnow()
    if not patient_ids:
        return {}
    rows = (
        session.execute(
            select(*_columns(Patient, PATIENT_FIELDS)).where(
                Patient.id.in_(sorted(set(patient_ids))),
                visible_patients(principal=principal, now=now),
            )
        )
        .mappings()
        .all()
    )
    target = log if log is not None else ReadLog()
    views = _patient_views(
        session=session, principal=principal, policy=policy, rows=rows, log=target, now=now
    )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return {v.id: v for v in views}
