"""A tiny clinic and hand-made demo patients for the journey and engagement tests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from backend.accounts.models import StaffRole, StaffUser
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, new_id
from backend.demo.sink import RowSink
from backend.organization.models import CareTeam, Location, Organization, OrganizationKind
from backend.patients.models import AdministrativeSex, Patient

TODAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ROLES = (
    StaffRole.FRONT_DESK,
    StaffRole.PHYSICIAN,
    StaffRole.THERAPIST,
    StaffRole.NURSE,
    StaffRole.CARE_COORDINATOR,
    StaffRole.ALUMNI_COORDINATOR,
    StaffRole.ADMIN,
)


def clinic(sink: RowSink, seed: int = 7) -> DemoContext:
    """One organization, one site, one care team and two staff users per role."""
    rng = random.Random(seed)
    ctx = DemoContext(seed=seed, today=TODAY, staff={}, location_ids=[], care_teams={})
    org = sink.add(Organization, id=new_id(rng), name="Test Clinic", kind=OrganizationKind.PROVIDER)
    location = sink.add(Location, id=new_id(rng), organization_id=org, name="Main site")
    ctx.location_ids.append(location)
    for role in ROLES:
        ctx.staff[role] = [
            sink.add(
                StaffUser,
                id=new_id(rng),
                username=f"{role.value}-{n}-{seed}",
                display_name=f"{role.value} {n}",
            )
            for n in range(2)
        ]
    team = sink.add(
        CareTeam, id=new_id(rng), name="Team A", location_id=location, program="outpatient"
    )
    ctx.care_teams[team] = {
        "location_id": location,
        "members": {role: ids[:1] for role, ids in ctx.staff.items()},
        "program": "intensive_outpatient",
    }
    return ctx


def patient(ctx: DemoContext, sink: RowSink, index: int, stage: JourneyStage) -> PatientSeed:
    """A demo patient at ``stage`` with a plausible journey, and its Patient row."""
    team = next(iter(ctx.care_teams))
    first = NOW - timedelta(days=400 - index)
    admitted = discharged = None
    if stage is not JourneyStage.INQUIRY:
        admitted = first + timedelta(days=5)
    if stage in (JourneyStage.DISCHARGED, JourneyStage.ALUMNI):
        discharged = first + timedelta(days=70)
    seed = PatientSeed(
        index=index,
        id=uuid.uuid4(),
        given_name="Alex",
        family_name=f"Rivera{index}",
        sex="female",
        birth_date=date(1990, 1, 1),
        location_id=ctx.location_ids[0],
        care_team_id=team,
        stage=stage,
        first_contact_at=first,
        admitted_at=admitted,
        discharged_at=discharged,
    )
    sink.add(
        Patient,
        id=seed.id,
        given_name=seed.given_name,
        family_name=seed.family_name,
        birth_date=seed.birth_date,
        sex=AdministrativeSex.FEMALE,
    )
    return seed


def staff_user(sink: RowSink, name: str) -> uuid.UUID:
    return sink.add(StaffUser, username=f"{name}-{uuid.uuid4().hex[:8]}", display_name=name)
