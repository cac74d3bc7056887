"""The duplicate review queue: open suggestions with their evidence, and "not a duplicate".

Reviewers need ``review_duplicates`` (policy.csv). Each suggestion shows both patients
as the caller may see them (masked as usual, and the read audited); a suggestion with a
patient out of the caller's scope, deleted or already merged is not listed at all.
Oldest first: the backlog is worked in the order it arrived.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, aliased

from backend.access.masking import mask_plan
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal, PrincipalKind
from backend.access.reads import ReadLog
from backend.access.scoping import patient_scope
from backend.identity.merge import (
    MergeForbidden,
    MergeInputError,
    MergeNotFound,
    audit_pair,
    clean_reason,
)
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.patients.models import Patient, PatientStatus
from backend.patients.records import PatientView
from backend.patients.service import get_patients

REVIEW_CAPABILITY = "review_duplicates"
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20
_CURSOR_PREFIX = b"dup:"


@dataclass(frozen=True, slots=True)
class FieldEvidence:
    field: str
    agreement: str  # exact | partial | disagree | missing
    level: str | None
    weight: float


@dataclass(frozen=True, slots=True)
class DuplicateView:
    link_id: uuid.UUID
    score: float | None
    total_weight: float | None
    evidence: tuple[FieldEvidence, ...]
    method: str
    matcher_version: str | None
    suggested_at: datetime
    patient_a: PatientView
    patient_b: PatientView


@dataclass(frozen=True, slots=True)
class DuplicatePage:
    items: tuple[DuplicateView, ...]
    cursors: tuple[str, ...]
    has_next_page: bool
    has_previous_page: bool


def require_reviewer(principal: Principal, policy: CompiledPolicy) -> None:
    if principal.kind is not PrincipalKind.STAFF or not principal_may(
        policy, principal, REVIEW_CAPABILITY
    ):
        raise MergeForbidden(
            "reviewing duplicates is not available to this account",
            refused=[f"capability.{REVIEW_CAPABILITY}"],
        )


def encode_cursor(link_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(_CURSOR_PREFIX + link_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MergeInputError("after", "invalid cursor") from exc
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) != len(_CURSOR_PREFIX) + 16:
        raise MergeInputError("after", "invalid cursor")
    return uuid.UUID(bytes=raw[len(_CURSOR_PREFIX) :])


def open_suggestions(
    *, principal: Principal | None, now: datetime
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The backlog query's FROM and WHERE: open suggestions between two live, unmerged
    patients, both in ``principal``'s scope (``None``: everyone's, for KPIs)."""
    a, b = aliased(Patient), aliased(Patient)
    source = (
        select(IdentityLink)
        .join(a, a.id == IdentityLink.patient_a_id)
        .join(b, b.id == IdentityLink.patient_b_id)
    )
    where = [
        IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
        IdentityLink.status == LinkStatus.OPEN,
        a.deleted_at.is_(None),
        b.deleted_at.is_(None),
        a.status != PatientStatus.MERGED,
        b.status != PatientStatus.MERGED,
    ]
    if principal is not None:
        where += [
            patient_scope(IdentityLink.patient_a_id, principal=principal, now=now),
            patient_scope(IdentityLink.patient_b_id, principal=principal, now=now),
        ]
    return source, where


def _evidence(raw: dict[str, Any]) -> tuple[tuple[FieldEvidence, ...], float | None]:
    fields = []
    for name, item in sorted(raw.items()):
        if name.startswith("_") or not isinstance(item, dict):
            continue
        weight = item.get("weight")
        fields.append(
            FieldEvidence(
                field=name,
                agreement=str(item.get("agreement", "missing")),
                level=None if item.get("level") is None else str(item["level"]),
                weight=float(weight) if isinstance(weight, int | float) else 0.0,
            )
        )
    total = raw.get("_total")
    return tuple(fields), float(total) if isinstance(total, int | float) else None


def possible_duplicates(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    now: datetime,
    log: ReadLog | None = None,
) -> DuplicatePage:
    """One page of the review backlog, oldest first (see module doc)."""
    require_reviewer(principal, policy)
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise MergeInputError("first", f"first must be between 1 and {MAX_PAGE_SIZE}")
    query, where = open_suggestions(principal=principal, now=now)
    if after is not None:
        anchor = session.execute(
            select(IdentityLink.recorded_at, IdentityLink.id).where(
                IdentityLink.id == decode_cursor(after), *where[:2]
            )
        ).first()
        if anchor is None:
            raise MergeInputError("after", "invalid cursor")
        where.append(
            or_(
                IdentityLink.recorded_at > anchor[0],
                and_(IdentityLink.recorded_at == anchor[0], IdentityLink.id > anchor[1]),
            )
        )
    links = list(
        session.execute(
            query.where(*where).order_by(IdentityLink.recorded_at, IdentityLink.id).limit(first + 1)
        ).scalars()
    )
    page = links[:first]
    ids = {p for link in page for p in (link.patient_a_id, link.patient_b_id)}
    target = log if log is not None else ReadLog()
    views = get_patients(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=sorted(ids),
        now=now,
        log=target,
    )
    plan = mask_plan(policy=policy, principal=principal, record_type="IdentityLink")
    items = []
    for link in page:
        if link.patient_a_id not in views or link.patient_b_id not in views:
            continue  # scope changed between the two queries: leave it out, never leak
        masked = plan.mask({"score": link.score, "match_evidence": link.match_evidence}).values
        evidence, total = _evidence(masked["match_evidence"] or {})
        items.append(
            DuplicateView(
                link_id=link.id,
                score=masked["score"],
                total_weight=total,
                evidence=evidence,
                method=link.method.value,
                matcher_version=link.matcher_version,
                suggested_at=link.recorded_at,
                patient_a=views[link.patient_a_id],
                patient_b=views[link.patient_b_id],
            )
        )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return DuplicatePage(
        items=tuple(items),
        cursors=tuple(encode_cursor(i.link_id) for i in items),
        has_next_page=len(links) > first,
        has_previous_page=after is not None,
    )


def _pair(a: uuid.UUID, b: uuid.UUID) -> ColumnElement[bool]:
    return or_(
        and_(IdentityLink.patient_a_id == a, IdentityLink.patient_b_id == b),
        and_(IdentityLink.patient_a_id == b, IdentityLink.patient_b_id == a),
    )


def mark_not_duplicate(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_a_id: uuid.UUID,
    patient_b_id: uuid.UUID,
    reason: str,
    now: datetime,
) -> IdentityLink:
    """Decide that two records are different people: open suggestions for the pair are
    rejected and a ``not_duplicate`` link (returned) stops the matcher suggesting them
    again; marking a pair twice returns the existing decision."""
    require_reviewer(principal, policy)
    reason = clean_reason(reason)
    if patient_a_id == patient_b_id:
        raise MergeInputError("patient_b_id", "a patient is always the same person as itself")
    visible = set(
        session.execute(
            select(Patient.id).where(
                Patient.id.in_([patient_a_id, patient_b_id]),
                Patient.deleted_at.is_(None),
                patient_scope(Patient.id, principal=principal, now=now),
            )
        ).scalars()
    )
    if visible != {patient_a_id, patient_b_id}:
        raise MergeNotFound("patient not found")
    session.execute(
        update(IdentityLink)
        .where(
            _pair(patient_a_id, patient_b_id),
            IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
            IdentityLink.status == LinkStatus.OPEN,
        )
        .values(
            status=LinkStatus.REJECTED,
            decided_by_id=principal.subject_id,
            decided_at=now,
            version=IdentityLink.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    existing = session.execute(
        select(IdentityLink).where(
            _pair(patient_a_id, patient_b_id),
            IdentityLink.kind == LinkKind.NOT_DUPLICATE,
            IdentityLink.status == LinkStatus.CONFIRMED,
        )
    ).scalar()
    link = existing or IdentityLink(
        id=uuid.uuid4(),
        patient_a_id=patient_a_id,
        patient_b_id=patient_b_id,
        kind=LinkKind.NOT_DUPLICATE,
        status=LinkStatus.CONFIRMED,
        method=LinkMethod.MANUAL,
        reason=reason,
        created_by_id=principal.subject_id,
        decided_by_id=principal.subject_id,
        decided_at=now,
    )
    if existing is None:
        session.add(link)
    session.flush()
    audit_pair(
        session=session,
        principal=principal,
        policy=policy,
        patient_ids=(patient_a_id, patient_b_id),
        record_types={"IdentityLink"},
        purpose="not_duplicate",
        now=now,
    )
    return link
