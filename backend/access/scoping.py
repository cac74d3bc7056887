"""Row scope: which patients a principal may see at all.

* staff: patients of their care teams (an active ``care_team_patient`` period on an
  active team); front desk also every patient whose home location is theirs;
* a patient principal: only themselves;
* admin and auditor: no patient rows (they manage users and read the audit trail);
* an active break-glass grant adds its one patient, until it expires.

Out of scope must look exactly like "does not exist" (a random UUID, another team's
patient and a deleted patient all answer the same), so callers use these clauses as
WHERE filters and report NOT_FOUND, never FORBIDDEN. The clauses are plain SQL (IN
subqueries and comparisons) and run the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from backend.access.principal import Principal, PrincipalKind
from backend.organization.models import CareTeam, CareTeamPatient
from backend.patients.models import Patient

NO_PATIENT_ROLES = frozenset({"admin", "auditor"})
"""Roles that never see patient rows through their role (break-glass aside)."""
LOCATION_ROLES = frozenset({"front_desk"})
"""Roles that see every patient of their own location, care team or not."""
PATIENT_DATA_SCOPES = frozenset({"patients:read", "patients:write", "fhir:export"})
"""A bearer token needs one of these to see any patient row (its fields are capped by
the ``scope:`` lines of the policy)."""

PatientIdColumn = InstrumentedAttribute[uuid.UUID] | ColumnElement[uuid.UUID]
PeriodColumn = InstrumentedAttribute[date | None]


def _active_on(start: PeriodColumn, end: PeriodColumn, day: date) -> ColumnElement[bool]:
    return and_(or_(start.is_(None), start <= day), or_(end.is_(None), end >= day))


def care_team_patient_ids(
    care_team_ids: frozenset[uuid.UUID], today: date
) -> Select[tuple[uuid.UUID]]:
    """SELECT of the patient ids currently under any of ``care_team_ids``."""
    return (
        select(CareTeamPatient.patient_id)
        .join(CareTeam, CareTeam.id == CareTeamPatient.care_team_id)
        .where(
            CareTeamPatient.care_team_id.in_(sorted(care_team_ids)),
            CareTeamPatient.deleted_at.is_(None),
            CareTeam.active.is_(True),
            CareTeam.deleted_at.is_(None),
            _active_on(CareTeamPatient.start_date, CareTeamPatient.end_date, today),
        )
        # Never correlate: the outer query may itself be on care_team_patient.
        .correlate(None)
    )


def break_glass_patient_ids(principal: Principal, now: datetime) -> list[uuid.UUID]:
    return sorted({g.patient_id for g in principal.break_glass if g.expires_at > now})


def _live(patient_id: PatientIdColumn) -> ColumnElement[bool]:
    if patient_id is Patient.id:  # visible_patients checks deleted_at on the row itself
        return true()
    return patient_id.in_(select(Patient.id).where(Patient.deleted_at.is_(None)).correlate(None))


def patient_scope(
    patient_id: PatientIdColumn, *, principal: Principal, now: datetime
) -> ColumnElement[bool]:
    """WHERE clause on any ``patient_id`` column: the rows of patients in scope.

    Rows of deleted patients are out of scope too, so a child-table query cannot tell
    a deleted patient from one that never existed.
    """
    live = _live(patient_id)
    if principal.kind is PrincipalKind.PATIENT:
        if principal.patient_id is None:
            return false()
        return and_(patient_id == principal.patient_id, live)
    if principal.token_scoped and not principal.scopes & PATIENT_DATA_SCOPES:
        return false()  # e.g. an auditor's audit:read token: no patient rows at all
    today = now.date()
    clauses: list[ColumnElement[bool]] = []
    roles = principal.roles
    if roles - NO_PATIENT_ROLES and principal.care_team_ids:
        clauses.append(patient_id.in_(care_team_patient_ids(principal.care_team_ids, today)))
    if roles & LOCATION_ROLES and principal.location_id is not None:
        clauses.append(
            patient_id.in_(
                select(Patient.id)
                .where(Patient.home_location_id == principal.location_id)
                .correlate(None)
            )
        )
    granted = break_glass_patient_ids(principal, now)
    if granted:
        clauses.append(patient_id.in_(granted))
    if not clauses:
        return false()
    return and_(live, or_(*clauses))


def patients_in_scope(
    *, session: Session, principal: Principal, patient_ids: Sequence[uuid.UUID], now: datetime
) -> frozenset[uuid.UUID]:
    """The patients among ``patient_ids`` in the caller's row scope (and not deleted), in
    one statement: a request decides this once and filters its reads by the ids."""
    if not patient_ids:
        return frozenset()
    return frozenset(
        session.scalars(
            select(Patient.id).where(
                Patient.id.in_(patient_ids),
                patient_scope(Patient.id, principal=principal, now=now),
            )
        )
    )


def visible_patients(*, principal: Principal, now: datetime) -> ColumnElement[bool]:
    """WHERE clause on :class:`Patient`: in scope and not deleted."""
    return and_(
        Patient.deleted_at.is_(None), patient_scope(Patient.id, principal=principal, now=now)
    )


def can_see_patient(
    *, session: Session, principal: Principal, patient_id: uuid.UUID, now: datetime
) -> bool:
    """Whether ``patient_id`` exists, is not deleted and is in scope: one query."""
    query = select(
        exists().where(Patient.id == patient_id, visible_patients(principal=principal, now=now))
    )
    return bool(session.execute(query).scalar())


def in_scope_via_break_glass(
    *, session: Session, principal: Principal, patient_id: uuid.UUID, now: datetime
) -> bool:
    """True when the patient is visible *only* because of a break-glass grant, so the
    caller flags the audit rows it writes."""
    if principal.break_glass_for(patient_id, now) is None:
        return False
    without = Principal(
        kind=principal.kind,
        subject_id=principal.subject_id,
        username=principal.username,
        roles=principal.roles,
        care_team_ids=principal.care_team_ids,
        location_id=principal.location_id,
        patient_id=principal.patient_id,
    )
    return not can_see_patient(session=session, principal=without, patient_id=patient_id, now=now)


__all__ = [
    "LOCATION_ROLES",
    "NO_PATIENT_ROLES",
    "break_glass_patient_ids",
    "can_see_patient",
    "care_team_patient_ids",
    "in_scope_via_break_glass",
    "patient_scope",
    "visible_patients",
]
