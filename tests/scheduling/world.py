"""A tiny demo clinic and patients at every journey stage, for the scheduling, billing and
forms tests (no password hashing, so it is cheap to build in every test)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import date, timedelta

from sqlalchemy.orm import Session

from backend.accounts.models import StaffRole, StaffUser
from backend.demo import billing, forms, scheduling
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, demo_now
from backend.demo.sink import RowSink
from backend.organization.models import CareTeam, Location, Organization, OrganizationKind
from backend.patients.models import AdministrativeSex, Patient

TODAY = date(2025, 6, 2)
STAGES = tuple(JourneyStage)


def new_sink() -> RowSink:
    return RowSink(random.Random("sink"), recorded_at=demo_now(TODAY))


def clinic(sink: RowSink, program: str = "intensive_outpatient") -> DemoContext:
    """Organization, one site, one staff user per role and one care team, queued in ``sink``."""
    ctx = DemoContext(seed=11, today=TODAY, staff={}, location_ids=[], care_teams={})
    org = sink.add(Organization, name="Test Clinic", kind=OrganizationKind.PROVIDER)
    location = sink.add(Location, organization_id=org, name="Test Clinic Main St")
    ctx.location_ids.append(location)
    tag = uuid.uuid4().hex[:8]
    for role in StaffRole:
        user = sink.add(StaffUser, username=f"{role.value}-{tag}", display_name=role.value)
        ctx.staff[role] = [user]
    team = sink.add(CareTeam, name="Team", location_id=location, program=program)
    members = {role: list(ids) for role, ids in ctx.staff.items()}
    ctx.care_teams[team] = {"location_id": location, "members": members, "program": program}
    return ctx


def patient(ctx: DemoContext, sink: RowSink, index: int, stage: JourneyStage) -> PatientSeed:
    """A patient row plus its seed, with dates that fit ``stage``."""
    now = ctx.now
    first = now - timedelta(days={"inquiry": 20, "in_treatment": 75}.get(stage, 420))
    admitted = None if stage is JourneyStage.INQUIRY else first + timedelta(days=9)
    discharged = None
    if stage is JourneyStage.DISCHARGED:
        discharged = now - timedelta(days=30)
    elif stage is JourneyStage.ALUMNI:
        discharged = now - timedelta(days=200)
    team = next(iter(ctx.care_teams))
    seed = PatientSeed(
        index=index,
        id=uuid.uuid4(),
        given_name="Jordan",
        family_name=f"Rivera{index}",
        sex="female" if index % 2 else "male",
        birth_date=date(1960 + index % 45, 1 + index % 12, 1 + index % 28),
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
        sex=AdministrativeSex(seed.sex),
        home_location_id=seed.location_id,
    )
    return seed


def seeded(
    session: Session, count: int = 24
) -> tuple[DemoContext, list[PatientSeed], Counter[str]]:
    """Run the three generators for ``count`` patients across all stages and insert them;
    return the context, the seeds and the rows written per table."""
    sink = new_sink()
    ctx = clinic(sink)
    for module in (scheduling, billing, forms):
        module.setup(ctx, sink)
    seeds = [patient(ctx, sink, n, STAGES[n % len(STAGES)]) for n in range(count)]
    for seed in seeds:
        for module in (scheduling, billing, forms):
            module.patient_rows(ctx, seed, sink)
    counts = Counter({table.name: len(rows) for table, rows in sink.rows.items()})
    sink.flush(session.connection())
    return ctx, seeds, counts


def insert_in_savepoint(session: Session, *objects: object) -> None:
    """Add and flush ``objects`` inside a SAVEPOINT, so a failing insert leaves the test's
    transaction usable (PostgreSQL aborts the whole transaction otherwise)."""
    with session.begin_nested():
        session.add_all(objects)
        session.flush()
