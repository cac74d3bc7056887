"""A tiny clinic for careplans tests: the parent rows plan records point at, and a
DemoContext and PatientSeeds that match them."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from backend.accounts.models import StaffRole, StaffUser
from backend.demo.context import DemoContext, JourneyStage, PatientSeed
from backend.demo.sink import RowSink
from backend.organization.models import CareTeam, Location, Organization, OrganizationKind
from backend.patients.models import AdministrativeSex, Patient

TODAY = date(2026, 3, 16)
ROLES = (
    StaffRole.THERAPIST,
    StaffRole.PHYSICIAN,
    StaffRole.NURSE,
    StaffRole.CARE_COORDINATOR,
    StaffRole.FRONT_DESK,
    StaffRole.BILLING,
    StaffRole.ALUMNI_COORDINATOR,
)


def new_sink(seed: int = 1) -> RowSink:
    return RowSink(random.Random(seed), recorded_at=datetime(2026, 3, 16, 12, tzinfo=UTC))


def build_world(
    sink: RowSink, *, program: str = "intensive_outpatient", seed: int = 11
) -> DemoContext:
    """Organization, location, two staff per role and one care team, queued in ``sink``."""
    org_id = sink.add(Organization, name="Test Clinic", kind=OrganizationKind.PROVIDER)
    location_id = sink.add(Location, organization_id=org_id, name="Main St")
    staff: dict[StaffRole, list[uuid.UUID]] = {}
    for role in ROLES:
        staff[role] = [
            sink.add(StaffUser, username=f"{role.value}{n}-{seed}", display_name=f"{role} {n}")
            for n in range(2)
        ]
    team_id = sink.add(CareTeam, name="Team A", location_id=location_id, program=program)
    members = {role: ids[:1] for role, ids in staff.items()}
    return DemoContext(
        seed=seed,
        today=TODAY,
        staff=staff,
        location_ids=[location_id],
        care_teams={team_id: {"location_id": location_id, "members": members, "program": program}},
    )


def add_patient(
    ctx: DemoContext, sink: RowSink, index: int, stage: JourneyStage, *, days_ago: int = 60
) -> PatientSeed:
    """A patient row plus the seed describing their journey at ``stage``."""
    team_id = next(iter(ctx.care_teams))
    now = ctx.now
    admitted = discharged = None
    first = now - timedelta(days=days_ago + 10)
    if stage is not JourneyStage.INQUIRY:
        admitted = now - timedelta(days=days_ago)
    if stage in {JourneyStage.DISCHARGED, JourneyStage.ALUMNI}:
        admitted = now - timedelta(days=days_ago + 70)
        first = admitted - timedelta(days=5)
        discharged = now - timedelta(days=days_ago)
    seed = PatientSeed(
        index=index,
        id=uuid.UUID(int=random.Random(f"p{index}").getrandbits(128), version=4),
        given_name="Ana",
        family_name=f"Test{index}",
        sex="female",
        birth_date=date(1990, 5, 17),
        location_id=ctx.location_ids[0],
        care_team_id=team_id,
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
        home_location_id=seed.location_id,
    )
    return seed
