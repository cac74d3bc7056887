"""Small demo worlds for the domain tests: a row sink, a clinic, staff users and patients
at a chosen journey stage, built the way the demo seeder builds them (rows queued in a
:class:`RowSink`, then flushed in one go)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from types import ModuleType

from sqlalchemy.orm import Session

from backend.accounts.models import StaffRole, StaffUser
from backend.demo import patients as patient_demo
from backend.demo.clinic import build_clinic
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, demo_now, new_id
from backend.demo.sink import RowSink
from backend.organization.models import CareTeam, Location, Organization, OrganizationKind
from backend.patients.models import AdministrativeSex, Patient

TODAY = date(2025, 6, 2)
STAGES = tuple(JourneyStage)
# Days before "now" of (first contact, admission, discharge). The patient builder drops
# the admission of an inquiry and the discharge of anyone not yet discharged.
Timeline = tuple[int, int | None, int | None]
STAGE_TIMELINES: dict[JourneyStage, Timeline] = {
    JourneyStage.INQUIRY: (20, None, None),
    JourneyStage.IN_TREATMENT: (75, 66, None),
    JourneyStage.DISCHARGED: (420, 411, 30),
    JourneyStage.ALUMNI: (420, 411, 200),
}


def new_sink(seed: int | str = "sink", *, today: date = TODAY) -> RowSink:
    """A sink drawing ids from ``random.Random(seed)`` and recording at noon on ``today``."""
    return RowSink(random.Random(seed), recorded_at=demo_now(today))


def clinic(
    sink: RowSink,
    *,
    today: date = TODAY,
    seed: int = 11,
    program: str = "intensive_outpatient",
    per_role: int = 2,
    generators: Sequence[ModuleType] = (),
) -> DemoContext:
    """A tiny clinic queued in ``sink``: one organization, site and care team running
    ``program``, ``per_role`` staff users for every role (the first of each on the team).
    No password hashing, so it is cheap to build in every test. Then ``setup`` of each of
    ``generators``."""
    ctx = DemoContext(seed=seed, today=today, staff={}, location_ids=[], care_teams={})
    org = sink.add(Organization, name="Test Clinic", kind=OrganizationKind.PROVIDER)
    location = sink.add(Location, organization_id=org, name="Test Clinic Main St")
    ctx.location_ids.append(location)
    for role in StaffRole:
        ctx.staff[role] = [
            sink.add(StaffUser, username=f"{role.value}-{n}-{seed}", display_name=f"{role} {n}")
            for n in range(per_role)
        ]
    team = sink.add(CareTeam, name="Team A", location_id=location, program=program)
    members = {role: ids[:1] for role, ids in ctx.staff.items()}
    ctx.care_teams[team] = {"location_id": location, "members": members, "program": program}
    _setup(ctx, sink, generators)
    return ctx


def demo_clinic(
    sink: RowSink,
    *,
    today: date = TODAY,
    seed: int = 7,
    generators: Sequence[ModuleType] = (),
) -> DemoContext:
    """The demo seeder's own clinic (:func:`build_clinic`: three sites, six care teams,
    named staff and hashed demo logins), then ``setup`` of each of ``generators``."""
    ctx, _ = build_clinic(seed, today, sink)
    _setup(ctx, sink, generators)
    return ctx


def _setup(ctx: DemoContext, sink: RowSink, generators: Sequence[ModuleType]) -> None:
    for module in generators:
        module.setup(ctx, sink)


def patient(
    ctx: DemoContext,
    sink: RowSink,
    index: int,
    stage: JourneyStage,
    *,
    timeline: Timeline | None = None,
    given_name: str = "Jordan",
    family_name: str | None = None,
    sex: str | None = None,
    birth_date: date | None = None,
) -> PatientSeed:
    """A hand-made patient on the first care team at ``stage``, and its Patient row.

    ``timeline`` defaults to :data:`STAGE_TIMELINES` for ``stage``; the family name to
    ``Rivera<index>``; sex alternates with ``index`` and the birth date spreads over 45
    years. The id is drawn from ``index``, so the same index gives the same rows."""
    first_days, admitted_days, discharged_days = timeline or STAGE_TIMELINES[stage]
    now = ctx.now
    admitted = discharged = None
    if stage is not JourneyStage.INQUIRY and admitted_days is not None:
        admitted = now - timedelta(days=admitted_days)
    if stage in (JourneyStage.DISCHARGED, JourneyStage.ALUMNI) and discharged_days is not None:
        discharged = now - timedelta(days=discharged_days)
    seed = PatientSeed(
        index=index,
        id=new_id(random.Random(f"p{index}")),
        given_name=given_name,
        family_name=family_name or f"Rivera{index}",
        sex=sex or ("female" if index % 2 else "male"),
        birth_date=birth_date or date(1960 + index % 45, 1 + index % 12, 1 + index % 28),
        location_id=ctx.location_ids[0],
        care_team_id=next(iter(ctx.care_teams)),
        stage=stage,
        first_contact_at=now - timedelta(days=first_days),
        admitted_at=admitted,
        discharged_at=discharged,
    )
    patient_row(sink, seed)
    return seed


def demo_seeds(ctx: DemoContext, count: int) -> list[PatientSeed]:
    """The demo seeder's own patients 0..count-1 (seeds only: no rows are queued)."""
    return [patient_demo.make_seed(ctx, index) for index in range(count)]


def patient_row(sink: RowSink, seed: PatientSeed) -> None:
    """Queue the Patient row for ``seed``: the parent row every domain's rows point at."""
    sink.add(
        Patient,
        id=seed.id,
        given_name=seed.given_name,
        family_name=seed.family_name,
        birth_date=seed.birth_date,
        sex=AdministrativeSex(seed.sex),
        home_location_id=seed.location_id,
    )


def staff_user(sink: RowSink, name: str) -> uuid.UUID:
    """A staff user displayed as ``name``, with a username no other test shares."""
    return sink.add(StaffUser, username=f"{name}-{uuid.uuid4().hex[:8]}", display_name=name)


def seeded(
    session: Session, generators: Sequence[ModuleType], count: int = 24
) -> tuple[DemoContext, list[PatientSeed], Counter[str]]:
    """Run ``generators`` (in order) for ``count`` patients spread over all stages in a
    :func:`clinic` and insert the rows; return the context, the seeds and the rows queued
    per table."""
    sink = new_sink()
    ctx = clinic(sink, generators=generators)
    seeds = [patient(ctx, sink, n, STAGES[n % len(STAGES)]) for n in range(count)]
    for seed in seeds:
        for module in generators:
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
