"""Patients for matcher tests: unique surnames per test so rows of other tests never pair."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Required, TypedDict

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, policy_store
from backend.identity.models import IdentityLink, LinkKind, LinkStatus
from backend.mpi.matcher import MatchSummary, match_patient
from backend.mpi.model import default_model
from backend.patients.models import (
    Address,
    ContactPoint,
    ContactSystem,
    IdentifierKind,
    Patient,
    PatientIdentifier,
)
from backend.settings import get_settings

NOW = datetime(2026, 5, 4, 9, tzinfo=UTC)


def policy() -> CompiledPolicy:
    return policy_store(get_settings().policies_dir).current()


def surname() -> str:
    """A surname no other test uses (letters only: digits would be folded away)."""
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])
    return "Q" + letters


class Shared(TypedDict, total=False):
    """What the records of one person (or of twins) share: ``patient(..., **shared)``."""

    family: Required[str]
    birth: date | None
    phone: str | None
    email: str | None
    line1: str | None
    postcode: str | None
    mrn: tuple[str, str] | None


def patient(
    session: Session,
    *,
    given: str,
    family: str,
    birth: date | None = date(1971, 5, 9),
    phone: str | None = None,
    email: str | None = None,
    line1: str | None = None,
    postcode: str | None = None,
    mrn: tuple[str, str] | None = None,
    recorded_at: datetime | None = None,
) -> uuid.UUID:
    p = Patient(id=uuid.uuid4(), given_name=given, family_name=family, birth_date=birth)
    if recorded_at is not None:
        p.recorded_at = recorded_at
    session.add(p)
    session.flush()
    if phone:
        session.add(ContactPoint(patient_id=p.id, system=ContactSystem.PHONE, value=phone))
    if email:
        session.add(ContactPoint(patient_id=p.id, system=ContactSystem.EMAIL, value=email))
    if line1:
        session.add(Address(patient_id=p.id, line1=line1, city="Springfield", postal_code=postcode))
    if mrn:
        session.add(
            PatientIdentifier(patient_id=p.id, kind=IdentifierKind.MRN, system=mrn[0], value=mrn[1])
        )
    session.flush()
    return p.id


def match(session: Session, patient_id: uuid.UUID, now: datetime = NOW) -> MatchSummary:
    return match_patient(session, patient_id, model=default_model(), now=now, policy=policy())


def links(session: Session, *ids: uuid.UUID) -> list[IdentityLink]:
    """Possible-duplicate links among these patients."""
    return list(
        session.execute(
            select(IdentityLink)
            .where(
                IdentityLink.patient_a_id.in_(ids),
                IdentityLink.patient_b_id.in_(ids),
                IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
            )
            .order_by(IdentityLink.recorded_at, IdentityLink.id)
        ).scalars()
    )


def open_count(session: Session, *ids: uuid.UUID) -> int:
    return int(
        session.execute(
            select(func.count(IdentityLink.id)).where(
                IdentityLink.patient_a_id.in_(ids),
                IdentityLink.patient_b_id.in_(ids),
                IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
                IdentityLink.status == LinkStatus.OPEN,
            )
        ).scalar()
        or 0
    )


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the session sends inside the block."""
    seen: list[str] = []
    bind = session.connection()

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(bind, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(bind, "before_cursor_execute", log)
