"""A small clinic for access tests: two locations, two care teams, patients in and out of
scope, and principals for them. Built inside the test's rolled-back session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from backend.access.principal import BreakGlassGrant, Principal, PrincipalKind
from backend.accounts.models import StaffUser
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import Patient

NOW = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
TODAY = NOW.date()


@dataclass
class World:
    org: uuid.UUID
    other_org: uuid.UUID
    loc1: uuid.UUID
    loc2: uuid.UUID
    team_a: uuid.UUID
    team_b: uuid.UUID
    patients: dict[str, uuid.UUID] = field(default_factory=dict)
    staff: dict[str, uuid.UUID] = field(default_factory=dict)

    def principal(
        self,
        who: str,
        roles: set[str] | str,
        *,
        teams: tuple[uuid.UUID, ...] = (),
        location: uuid.UUID | None = None,
        grants: tuple[BreakGlassGrant, ...] = (),
    ) -> Principal:
        return Principal(
            kind=PrincipalKind.STAFF,
            subject_id=self.staff[who],
            username=who,
            roles=frozenset({roles} if isinstance(roles, str) else roles),
            care_team_ids=frozenset(teams),
            location_id=location,
            break_glass=grants,
        )

    def patient_principal(self, name: str) -> Principal:
        return Principal(
            kind=PrincipalKind.PATIENT,
            subject_id=uuid.uuid4(),
            username=f"portal-{name}",
            roles=frozenset({"patient"}),
            patient_id=self.patients[name],
        )


def _patient(session: Session, name: str, location: uuid.UUID | None, **extra: object) -> uuid.UUID:
    row = Patient(
        id=uuid.uuid4(),
        given_name="Test",
        family_name=name.capitalize(),
        birth_date=date(1990, 1, 1),
        home_location_id=location,
        **extra,
    )
    session.add(row)
    return row.id


def build(session: Session) -> World:
    org = Organization(id=uuid.uuid4(), name="Clinic", kind=OrganizationKind.PROVIDER)
    other_org = Organization(id=uuid.uuid4(), name="Elsewhere", kind=OrganizationKind.PROVIDER)
    session.add_all([org, other_org])
    session.flush()
    loc1 = Location(id=uuid.uuid4(), organization_id=org.id, name="Main St")
    loc2 = Location(id=uuid.uuid4(), organization_id=other_org.id, name="Harbor")
    session.add_all([loc1, loc2])
    session.flush()
    team_a = CareTeam(id=uuid.uuid4(), name="A", location_id=loc1.id)
    team_b = CareTeam(id=uuid.uuid4(), name="B", location_id=loc2.id)
    team_off = CareTeam(id=uuid.uuid4(), name="Disbanded", location_id=loc1.id, active=False)
    session.add_all([team_a, team_b, team_off])
    world = World(org.id, other_org.id, loc1.id, loc2.id, team_a.id, team_b.id)
    tag = uuid.uuid4().hex[:6]
    for who in ("therapist", "other_therapist", "physician", "front_desk", "alumni", "auditor"):
        user = StaffUser(id=uuid.uuid4(), username=f"{who}-{tag}", display_name=who)
        session.add(user)
        world.staff[who] = user.id
    session.flush()
    p = world.patients
    p["a"] = _patient(session, "alpha", loc1.id)  # team A, location 1
    p["b"] = _patient(session, "bravo", loc2.id)  # team B, location 2
    p["walkin"] = _patient(session, "walkin", loc1.id)  # no team, location 1
    p["ended"] = _patient(session, "ended", loc2.id)  # team A until last month
    p["future"] = _patient(session, "future", loc2.id)  # team A from next month
    p["disbanded"] = _patient(session, "disbanded", loc2.id)  # only on an inactive team
    p["deleted"] = _patient(session, "deleted", loc1.id, deleted_at=NOW - timedelta(days=1))
    session.flush()
    links = [
        (team_a.id, p["a"], None, None),
        (team_b.id, p["b"], None, None),
        (team_a.id, p["ended"], None, TODAY - timedelta(days=30)),
        (team_a.id, p["future"], TODAY + timedelta(days=30), None),
        (team_off.id, p["disbanded"], None, None),
        (team_a.id, p["deleted"], None, None),
    ]
    for team, patient, start, end in links:
        session.add(
            CareTeamPatient(care_team_id=team, patient_id=patient, start_date=start, end_date=end)
        )
    members = [
        (team_a.id, "therapist", CareTeamRole.THERAPIST, None),
        (team_b.id, "other_therapist", CareTeamRole.THERAPIST, None),
        (team_a.id, "physician", CareTeamRole.PHYSICIAN, None),
        (team_b.id, "therapist", CareTeamRole.THERAPIST, TODAY - timedelta(days=1)),
    ]
    for team, who, role, end in members:
        session.add(
            CareTeamMember(
                care_team_id=team, staff_user_id=world.staff[who], role=role, end_date=end
            )
        )
    session.flush()
    return world
