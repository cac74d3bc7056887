"""A small committed clinic for GraphQL tests over real HTTP, once per database.

The app under test has its own connections, so rows are committed (names are unique per
run); callers sign in with bearer tokens issued the way ``patient360 token`` does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.testclient import TestClient

from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.app import create_app
from backend.auth.tokens import default_scopes, issue_access_token
from backend.billing.models import Coverage
from backend.careplans.models import CarePlan, Goal, Task
from backend.clinical.models import (
    Allergy,
    Assessment,
    ClinicalNote,
    Condition,
    Medication,
    NoteKind,
)
from backend.clinical.results import Observation, ObservationCategory
from backend.clinical.scoring import Instrument
from backend.common.types import Code, Sensitivity
from backend.db import make_engine, transaction
from backend.engagement.consent import Consent, ConsentKind
from backend.engagement.enums import CommunicationChannel, Direction
from backend.engagement.models import Communication
from backend.migrations import upgrade_to_head
from backend.models import metadata
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import (
    ContactPoint,
    ContactSystem,
    EmergencyContact,
    IdentifierKind,
    Patient,
    PatientIdentifier,
)
from backend.scheduling.models import Appointment, Encounter, ServiceType
from backend.settings import Settings
from tests.api.journey_records import Shared, journey_records, shared_rows
from tests.conftest import BACKENDS

SECRET = "api-tests-secret-" + "k" * 40
OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


@dataclass
class ApiWorld:
    tag: str
    patients: dict[str, uuid.UUID] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    phone: str = ""
    mrn: str = ""


def settings_for(db_url: str, env: str = "test") -> Settings:
    # The principal cache is off here: statement counts must not depend on whether a
    # slow machine let the 5-second entry lapse between two requests. It has its own
    # tests (tests/auth/test_principal_cache.py).
    return Settings(
        env=env,
        database_url=db_url,
        secret_key=SecretStr(SECRET),
        principal_cache_seconds=0,
    )


def _condition(patient_id: uuid.UUID, n: int, **extra: Any) -> Condition:
    return Condition(
        patient_id=patient_id,
        code=Code("http://hl7.org/fhir/sid/icd-10-cm", f"F3{n % 10}.{n % 7}", f"Dx {n}"),
        effective_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n),
        **extra,
    )


def _appointment(patient_id: uuid.UUID, n: int) -> Appointment:
    start = datetime(2025, 7, 1, 9, tzinfo=UTC) + timedelta(days=n)
    return Appointment(
        patient_id=patient_id,
        service_type=ServiceType.PSYCHIATRY,
        start_at=start,
        end_at=start + timedelta(minutes=50),
        reason_text="Follow-up on mood",
        reason=Code("http://hl7.org/fhir/sid/icd-10-cm", "F32.1", "Major depressive disorder"),
    )


def _medication(patient_id: uuid.UUID, n: int) -> Medication:
    return Medication(
        patient_id=patient_id,
        code=Code("http://www.nlm.nih.gov/research/umls/rxnorm", f"31456{n}", f"Sertraline {n}"),
        dosage_text="50 mg by mouth daily",
        effective_at=datetime(2025, 2, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _allergy(patient_id: uuid.UUID, n: int) -> Allergy:
    return Allergy(
        patient_id=patient_id,
        code=Code("http://www.nlm.nih.gov/research/umls/rxnorm", f"7980{n}", f"Penicillin {n}"),
        effective_at=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _observation(
    patient_id: uuid.UUID, n: int, category: ObservationCategory = ObservationCategory.LABORATORY
) -> Observation:
    return Observation(
        patient_id=patient_id,
        category=category,
        code=Code("http://loinc.org", "2345-7", f"Glucose {n}"),
        value_text=f"{90 + n} mg/dL",
        effective_at=datetime(2025, 4, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _encounter(patient_id: uuid.UUID, n: int) -> Encounter:
    start = datetime(2025, 7, 1, 9, tzinfo=UTC) + timedelta(days=n)
    return Encounter(
        patient_id=patient_id,
        period_start=start,
        period_end=start + timedelta(minutes=50),
        reason=Code("http://hl7.org/fhir/sid/icd-10-cm", "F32.1", "Major depressive disorder"),
        note="Seen for mood",
    )


def _note(
    patient_id: uuid.UUID, n: int, kind: NoteKind = NoteKind.PROGRESS, **extra: Any
) -> ClinicalNote:
    return ClinicalNote(
        patient_id=patient_id,
        kind=kind,
        doc_type=Code("http://loinc.org", "11506-3", "Progress note"),
        title=f"Note {n}",
        body="Patient reports better sleep.",
        effective_at=datetime(2025, 5, 1, tzinfo=UTC) + timedelta(days=n),
        **extra,
    )


def _assessment(patient_id: uuid.UUID, n: int) -> Assessment:
    return Assessment(
        patient_id=patient_id,
        instrument=Instrument.PHQ9,
        code=Code("http://loinc.org", "44261-6", f"PHQ-9 {n}"),
        total_score=n % 27,
        effective_at=datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _communication(patient_id: uuid.UUID, n: int) -> Communication:
    sent = datetime(2025, 8, 1, tzinfo=UTC) + timedelta(days=n)
    return Communication(
        patient_id=patient_id,
        channel=CommunicationChannel.SMS,
        direction=Direction.OUTBOUND,
        subject=f"Reminder {n}",
        body="See you tomorrow at 9.",
        sent_at=sent,
        effective_at=sent,
    )


def _consent(patient_id: uuid.UUID, n: int) -> Consent:
    return Consent(
        patient_id=patient_id,
        kind=ConsentKind.TREATMENT,
        purpose=f"Treatment {n}",
        effective_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _emergency_contact(patient_id: uuid.UUID, n: int) -> EmergencyContact:
    return EmergencyContact(
        patient_id=patient_id,
        name=f"Contact {n}",
        relationship_to_patient="sibling",
        phone=f"+1617555{n:04d}",
        email=f"contact{n}@example.org",
        is_primary=n == 0,
        effective_at=datetime(2025, 2, 1, tzinfo=UTC) + timedelta(days=n),
    )


def _plan(patient_id: uuid.UUID, n: int) -> list[Any]:
    """A care plan with one goal and one task on it."""
    plan = CarePlan(
        id=uuid.uuid4(),
        patient_id=patient_id,
        title=f"Plan {n}",
        effective_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n),
    )
    goal = Goal(patient_id=patient_id, care_plan_id=plan.id, title=f"Goal {n}", ordering=n)
    task = Task(
        patient_id=patient_id,
        care_plan_id=plan.id,
        title=f"Task {n}",
        due_at=datetime(2025, 9, 1, tzinfo=UTC) + timedelta(days=n),
    )
    return [plan, goal, task]


def _chart(patient_id: uuid.UUID, count: int, payer_id: uuid.UUID, shared: Shared) -> list[Any]:
    """``count`` records in each category beyond conditions and appointments (a care
    plan counts with its goal and task; the journey and the rest come from
    :mod:`tests.api.journey_records`)."""
    makers = (
        _medication,
        _allergy,
        _observation,
        _encounter,
        _note,
        _assessment,
        _communication,
        _consent,
        _emergency_contact,
    )
    records: list[Any] = [make(patient_id, n) for make in makers for n in range(count)]
    coverage = [
        Coverage(id=uuid.uuid4(), patient_id=patient_id, payer_id=payer_id) for _ in range(count)
    ]
    records += coverage
    for n in range(count):
        records += journey_records(patient_id, n, shared, coverage[0].id)
    # Plans first: goals and tasks point at them (the session flushes in add order).
    plans = [_plan(patient_id, n) for n in range(count)]
    records += [p[0] for p in plans] + [r for p in plans for r in p[1:]]
    return records


@pytest.fixture(scope="session", params=BACKENDS)
def api_db_url(request: pytest.FixtureRequest, fresh_database_url: Any) -> str:
    """A database of the API tests' own: their committed clinic must not show up in
    other tests that count rows in the shared one."""
    url: str = fresh_database_url(request.param)
    if os.environ.get("P360_TEST_SCHEMA") == "metadata" and not os.environ.get("CI"):
        engine = make_engine(url)
        metadata.create_all(engine)
        engine.dispose()
    else:
        upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def api_engine(api_db_url: str) -> Iterator[Engine]:
    engine = make_engine(api_db_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def api_world(api_engine: Engine, api_db_url: str) -> ApiWorld:
    engine, db_url = api_engine, api_db_url
    # A letter first: an all-digit tag (about 1 in 40) reads as a phone number to the
    # patient search, and the search-by-tag test then finds nobody.
    tag = "w" + uuid.uuid4().hex[:7]
    world = ApiWorld(tag=tag)
    digits = str(uuid.uuid4().int)[:7]
    world.phone = f"+1555{digits}"
    world.mrn = f"MRN-{tag}"
    with transaction(engine) as s:
        org = Organization(id=uuid.uuid4(), name=f"Clinic {tag}", kind=OrganizationKind.PROVIDER)
        s.add(org)
        s.flush()
        loc1 = Location(id=uuid.uuid4(), organization_id=org.id, name=f"Main {tag}")
        loc2 = Location(id=uuid.uuid4(), organization_id=org.id, name=f"Harbor {tag}")
        s.add_all([loc1, loc2])
        s.flush()
        team_a = CareTeam(id=uuid.uuid4(), name=f"A {tag}", location_id=loc1.id)
        team_b = CareTeam(id=uuid.uuid4(), name=f"B {tag}", location_id=loc2.id)
        s.add_all([team_a, team_b])
        staff: dict[str, StaffUser] = {}
        for who, role, location in (
            ("physician", StaffRole.PHYSICIAN, None),
            ("front_desk", StaffRole.FRONT_DESK, loc1.id),
            ("admin", StaffRole.ADMIN, None),
            ("therapist", StaffRole.THERAPIST, None),
            ("alumni_coordinator", StaffRole.ALUMNI_COORDINATOR, None),
            ("billing", StaffRole.BILLING, None),
            ("care_coordinator", StaffRole.CARE_COORDINATOR, None),
        ):
            user = StaffUser(
                id=uuid.uuid4(), username=f"{who}-{tag}", display_name=who, location_id=location
            )
            s.add(user)
            s.flush()
            s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
            staff[who] = user
        for who, team_role in (
            ("physician", CareTeamRole.PHYSICIAN),
            ("therapist", CareTeamRole.THERAPIST),
            ("alumni_coordinator", CareTeamRole.ALUMNI_COORDINATOR),
            ("billing", CareTeamRole.BILLING),
            ("care_coordinator", CareTeamRole.CARE_COORDINATOR),
        ):
            s.add(
                CareTeamMember(care_team_id=team_a.id, staff_user_id=staff[who].id, role=team_role)
            )
        people = {
            # (given, family, preferred, home location, team)
            "jose": ("José", f"Álvarez{tag}", "Pepe", loc1.id, team_a.id),
            "few": ("Fay", f"Few{tag}", None, loc1.id, team_a.id),
            "many": ("Manny", f"Many{tag}", None, loc1.id, team_a.id),
            "other": ("Otto", f"Other{tag}", None, loc2.id, team_b.id),
        }
        for key, (given, family, preferred, location, team) in people.items():
            patient = Patient(
                id=uuid.uuid4(),
                given_name=given,
                family_name=family,
                preferred_name=preferred,
                birth_date=date(1980, 5, 17),
                home_location_id=location,
            )
            s.add(patient)
            s.flush()
            s.add(CareTeamPatient(care_team_id=team, patient_id=patient.id))
            world.patients[key] = patient.id
        jose = world.patients["jose"]
        shared, reference = shared_rows(tag)
        s.add_all(reference)
        s.flush()
        s.add(ContactPoint(patient_id=jose, system=ContactSystem.PHONE, value=world.phone))
        s.add(
            PatientIdentifier(
                patient_id=jose, kind=IdentifierKind.MRN, system="local", value=world.mrn
            )
        )
        s.add_all([_condition(jose, 1), _condition(jose, 2)])
        # A Part 2 record with no disclosure consent: nobody on staff may see it.
        s.add(_condition(jose, 3, sensitivity=Sensitivity.PART2))
        s.add_all([_appointment(jose, 1), _appointment(jose, 2)])
        s.add_all(_chart(jose, 1, org.id, shared))
        # Not a lab: vital signs stay out of `labs`.
        s.add(_observation(jose, 9, ObservationCategory.VITAL_SIGNS))
        # Psychotherapy notes: one by nobody on staff (the treating therapist reads it),
        # one by the physician (the author reads it).
        psychotherapy = NoteKind.PSYCHOTHERAPY
        s.add(_note(jose, 7, psychotherapy, sensitivity=Sensitivity.PSYCHOTHERAPY))
        s.add(
            _note(
                jose,
                8,
                psychotherapy,
                author_id=staff["physician"].id,
                sensitivity=Sensitivity.PSYCHOTHERAPY,
            )
        )
        s.add_all(_chart(world.patients["few"], 2, org.id, shared))
        s.add_all(_chart(world.patients["many"], 40, org.id, shared))
        s.add_all([_condition(world.patients["few"], n) for n in range(2)])
        s.add_all([_condition(world.patients["many"], n) for n in range(40)])
        s.add_all([_appointment(world.patients["few"], n) for n in range(2)])
        s.add_all([_appointment(world.patients["many"], n) for n in range(40)])
        s.add(_condition(world.patients["other"], 1))
        settings = settings_for(db_url)
        for who, user in staff.items():
            roles = frozenset(str(r) for r in (StaffRole(user.username.split("-")[0]),))
            world.tokens[who] = issue_access_token(
                session=s,
                settings=settings,
                staff_user_id=user.id,
                scopes=default_scopes(roles),
                lifetime=timedelta(hours=1),
            ).access_token
    return world


@pytest.fixture
def client(api_db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(api_db_url))) as http:
        yield http


def operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()
