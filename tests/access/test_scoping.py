"""Row scope on SQLite and PostgreSQL, with IDOR attempts: out of scope == not found."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.principal import BreakGlassGrant, Principal, PrincipalKind
from backend.access.scoping import (
    can_see_patient,
    in_scope_via_break_glass,
    patient_scope,
    visible_patients,
)
from backend.organization.models import CareTeamPatient
from backend.patients.models import Patient
from tests.access.world import NOW, World, build


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def visible(session: Session, principal: Principal, world: World) -> set[str]:
    ids = set(
        session.execute(
            select(Patient.id).where(visible_patients(principal=principal, now=NOW))
        ).scalars()
    )
    return {name for name, pid in world.patients.items() if pid in ids}


def test_care_team_staff_see_their_current_patients_only(session: Session, world: World) -> None:
    physician = world.principal("physician", "physician", teams=(world.team_a,))
    # "ended"/"future" are outside the team's period; "deleted" does not exist any more.
    assert visible(session, physician, world) == {"a"}


def test_front_desk_sees_their_location_and_teams(session: Session, world: World) -> None:
    desk = world.principal("front_desk", "front_desk", location=world.loc1)
    assert visible(session, desk, world) == {"a", "walkin"}
    desk_b = world.principal("front_desk", "front_desk", teams=(world.team_b,), location=world.loc1)
    assert visible(session, desk_b, world) == {"a", "walkin", "b"}


def test_inactive_team_gives_no_access(session: Session, world: World) -> None:
    team_off = session.execute(
        select(CareTeamPatient.care_team_id).where(
            CareTeamPatient.patient_id == world.patients["disbanded"]
        )
    ).scalar_one()
    nurse = world.principal("physician", "nurse", teams=(team_off,))
    assert visible(session, nurse, world) == set()


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admin_and_auditor_see_no_patients(session: Session, world: World, role: str) -> None:
    # Even if someone put them on a team and gave them a location.
    who = world.principal("auditor", role, teams=(world.team_a,), location=world.loc1)
    assert visible(session, who, world) == set()


def test_a_patient_sees_only_themselves(session: Session, world: World) -> None:
    assert visible(session, world.patient_principal("a"), world) == {"a"}
    nobody = Principal(
        kind=PrincipalKind.PATIENT, subject_id=uuid.uuid4(), username="x", roles=frozenset()
    )
    assert visible(session, nobody, world) == set()


def test_break_glass_adds_one_patient_until_it_expires(session: Session, world: World) -> None:
    grant = BreakGlassGrant(world.patients["b"], NOW + timedelta(minutes=60), uuid.uuid4())
    physician = world.principal("physician", "physician", teams=(world.team_a,), grants=(grant,))
    assert visible(session, physician, world) == {"a", "b"}
    assert in_scope_via_break_glass(
        session=session, principal=physician, patient_id=world.patients["b"], now=NOW
    )
    assert not in_scope_via_break_glass(
        session=session, principal=physician, patient_id=world.patients["a"], now=NOW
    )
    later = NOW + timedelta(minutes=61)
    assert not can_see_patient(
        session=session, principal=physician, patient_id=world.patients["b"], now=later
    )


# IDOR: every attempt must answer exactly like a patient that does not exist.
IDOR = [
    ("another team's patient", "b"),
    ("a patient whose team period ended", "ended"),
    ("a deleted patient", "deleted"),
    ("a guessed id", None),
]


@pytest.mark.parametrize(("case", "target"), IDOR, ids=[c for c, _ in IDOR])
def test_idor_attempts_look_like_missing_patients(
    session: Session, world: World, case: str, target: str | None
) -> None:
    pid = world.patients[target] if target else uuid.uuid4()
    callers = [
        world.principal("physician", "physician", teams=(world.team_a,)),
        world.principal("therapist", {"therapist", "care_coordinator"}, teams=(world.team_a,)),
        world.patient_principal("a"),
    ]
    for caller in callers:
        assert not can_see_patient(session=session, principal=caller, patient_id=pid, now=NOW)
    # ... and the rows of child tables are filtered by the same clause.
    rows = session.execute(
        select(CareTeamPatient.id).where(
            CareTeamPatient.patient_id == pid,
            patient_scope(CareTeamPatient.patient_id, principal=callers[0], now=NOW),
        )
    ).all()
    assert rows == []


def test_own_patient_is_found(session: Session, world: World) -> None:
    physician = world.principal("physician", "physician", teams=(world.team_a,))
    assert can_see_patient(
        session=session, principal=physician, patient_id=world.patients["a"], now=NOW
    )
