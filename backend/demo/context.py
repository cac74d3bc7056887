"""What every domain's demo generator receives: the clinic, one patient's journey, a sink.

Each domain module in ``backend/demo/`` exposes two functions:

* ``setup(ctx, sink)`` writes the domain's reference data once (templates, programs,
  payers, form definitions ...) and keeps whatever ids later calls need in
  ``ctx.shared`` under keys named after the domain (``"careplans.templates"``...).
* ``patient_rows(ctx, patient, sink)`` writes one patient's records. It draws every
  random choice from ``ctx.rng(patient, "<domain>")`` so output is the same for the same
  seed whatever the chunking or the order of other generators, and it may leave ids in
  ``patient.facts`` for generators that run after it (see ``GENERATORS`` in seed.py).
"""

from __future__ import annotations

import enum
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from backend.accounts.models import StaffRole


class JourneyStage(enum.StrEnum):
    """How far a demo patient has come, which decides what records they have."""

    INQUIRY = "inquiry"  # reached out, never admitted
    IN_TREATMENT = "in_treatment"  # admitted, not yet discharged
    DISCHARGED = "discharged"  # discharged, in aftercare
    ALUMNI = "alumni"  # discharged and in an alumni program


@dataclass
class PatientSeed:
    """One demo patient's fixed facts, decided before any domain writes a row."""

    index: int
    id: uuid.UUID
    given_name: str
    family_name: str
    sex: str  # AdministrativeSex value
    birth_date: date
    location_id: uuid.UUID
    care_team_id: uuid.UUID
    stage: JourneyStage
    first_contact_at: datetime
    admitted_at: datetime | None
    discharged_at: datetime | None
    # Ids and facts earlier generators leave for later ones, e.g. "scheduling.encounters":
    # list of (encounter_id, start datetime). Keys are documented by the writer.
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def age(self) -> int:
        today = date.today()
        years = today.year - self.birth_date.year
        return years - ((today.month, today.day) < (self.birth_date.month, self.birth_date.day))


@dataclass
class DemoContext:
    seed: int
    today: date
    # Access role -> staff user ids holding it. The first id of each role is the demo
    # login named after the role (``physician`` ...); the rest are colleagues.
    staff: dict[StaffRole, list[uuid.UUID]]
    location_ids: list[uuid.UUID]
    # care team id -> {"location_id": ..., "members": {StaffRole: [ids]}}
    care_teams: dict[uuid.UUID, dict[str, Any]]
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The demo's 'now': noon UTC on ``today``; nothing is recorded after it."""
        return demo_now(self.today)

    def rng(self, patient: PatientSeed | None, domain: str) -> random.Random:
        """A generator private to (seed, patient, domain): stable under any reordering."""
        index = -1 if patient is None else patient.index
        return random.Random(f"{self.seed}:{index}:{domain}")

    def team_member(self, patient: PatientSeed, role: StaffRole, rng: random.Random) -> uuid.UUID:
        """A staff member of the patient's care team with ``role`` (any holder if none)."""
        members: list[uuid.UUID] = (
            self.care_teams[patient.care_team_id]["members"].get(role) or self.staff[role]
        )
        return rng.choice(members)


def demo_now(today: date) -> datetime:
    return datetime.combine(today, time(12, 0), tzinfo=UTC)


def new_id(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng``: random-looking but reproducible."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def at(
    day: date | datetime, rng: random.Random, start_hour: int = 8, end_hour: int = 17
) -> datetime:
    """A time during office hours on ``day`` (UTC), on a 15-minute boundary."""
    base = day.date() if isinstance(day, datetime) else day
    minutes = rng.randrange(start_hour * 60, end_hour * 60, 15)
    return datetime.combine(base, time(minutes // 60, minutes % 60), tzinfo=UTC)


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A uniformly drawn moment in [start, end] (start when the range is empty)."""
    span = (end - start).total_seconds()
    if span <= 0:
        return start
    return start + timedelta(seconds=rng.uniform(0, span))
