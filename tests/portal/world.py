"""A small clinic for portal tests: two patients on two teams, staff, and a record.

Built in whatever session it is given: the rolled-back ``session`` fixture for service
tests, or a committed transaction for HTTP and browser tests (the app has its own
connections). Names carry a random tag so committed worlds never collide.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.principal import Principal, PrincipalKind
from backend.accounts.invites import issue_invite, redeem_invite
from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.accounts.passwords import hash_password
from backend.careplans.models import CarePlan, Goal
from backend.db import transaction
from backend.engagement.enums import CommunicationChannel, Direction
from backend.engagement.models import Communication
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import ContactPoint, ContactSystem, Patient
from backend.scheduling.models import Appointment, Encounter, ServiceType

PASSWORD = "violet lantern harbour 42"
PASSWORD_HASH = hash_password(PASSWORD)  # once: argon2 is slow on purpose


@dataclass
class PortalWorld:
    tag: str
    patients: dict[str, uuid.UUID] = field(default_factory=dict)
    birth_dates: dict[str, date] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)
    staff: dict[str, uuid.UUID] = field(default_factory=dict)
    goals: dict[str, uuid.UUID] = field(default_factory=dict)

    def staff_principal(self, who: str, role: StaffRole) -> Principal:
        return Principal(
            kind=PrincipalKind.STAFF,
            subject_id=self.staff[who],
            username=f"{who}-{self.tag}",
            roles=frozenset({role.value}),
            care_team_ids=frozenset({self.staff_team}),
            location_id=self.staff_location,
        )

    staff_team: uuid.UUID = field(default_factory=uuid.uuid4)
    staff_location: uuid.UUID = field(default_factory=uuid.uuid4)


def build_world(s: Session, *, now: datetime | None = None, accounts: bool = True) -> PortalWorld:
    """Patients ``ana`` (team A) and ``ben`` (team B), each with appointments, a care
    plan and messages; front desk, nurse and care coordinator on team A's location."""
    now = now or datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    world = PortalWorld(tag=tag)
    org = Organization(id=uuid.uuid4(), name=f"Clinic {tag}", kind=OrganizationKind.PROVIDER)
    s.add(org)
    s.flush()
    loc_a = Location(id=uuid.uuid4(), organization_id=org.id, name=f"North {tag}")
    loc_b = Location(id=uuid.uuid4(), organization_id=org.id, name=f"South {tag}")
    s.add_all([loc_a, loc_b])
    s.flush()
    team_a = CareTeam(id=uuid.uuid4(), name=f"A {tag}", location_id=loc_a.id)
    team_b = CareTeam(id=uuid.uuid4(), name=f"B {tag}", location_id=loc_b.id)
    s.add_all([team_a, team_b])
    s.flush()
    world.staff_team, world.staff_location = team_a.id, loc_a.id
    for who, role in (
        ("front_desk", StaffRole.FRONT_DESK),
        ("nurse", StaffRole.NURSE),
        ("coordinator", StaffRole.CARE_COORDINATOR),
    ):
        user = StaffUser(
            id=uuid.uuid4(),
            username=f"{who}-{tag}",
            display_name=f"Dr {who.title()} Secretname",
            location_id=loc_a.id,
        )
        s.add(user)
        s.flush()
        s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
        s.add(
            CareTeamMember(care_team_id=team_a.id, staff_user_id=user.id, role=CareTeamRole.NURSE)
        )
        world.staff[who] = user.id
    for key, (given, born, location, team) in {
        "ana": ("Ana", date(1984, 4, 23), loc_a.id, team_a.id),
        "ben": ("Ben", date(1979, 11, 2), loc_b.id, team_b.id),
    }.items():
        patient = Patient(
            id=uuid.uuid4(),
            given_name=given,
            family_name=f"Tester{tag}",
            birth_date=born,
            home_location_id=location,
        )
        s.add(patient)
        s.flush()
        s.add(CareTeamPatient(care_team_id=team, patient_id=patient.id))
        world.patients[key] = patient.id
        world.birth_dates[key] = born
        world.emails[key] = f"{key}.{tag}@example.org"
        _record(s, world, key, patient.id, now)
    s.flush()
    if accounts:
        for key in ("ana", "ben"):
            world.accounts[key] = add_account(
                s,
                patient_id=world.patients[key],
                email=world.emails[key],
                born=world.birth_dates[key],
            )
    # A nurse read Ana's record: "who looked at my record" has something to show.
    nurse = world.staff_principal("nurse", StaffRole.NURSE)
    audit.record(
        session=s,
        principal=nurse,
        action=AuditAction.READ,
        patient_id=world.patients["ana"],
        record_types=["Patient", "Appointment"],
        fields=["Patient.given_name"],
        now=now - timedelta(hours=2),
    )
    s.flush()
    return world


def _record(s: Session, world: PortalWorld, key: str, patient_id: uuid.UUID, now: datetime) -> None:
    name = key.title()
    for days, reason in ((7, f"{name} upcoming check-in"), (-30, f"{name} past intake")):
        start = now + timedelta(days=days)
        s.add(
            Appointment(
                patient_id=patient_id,
                service_type=ServiceType.PSYCHIATRY,
                start_at=start,
                end_at=start + timedelta(minutes=50),
                reason_text=reason,
            )
        )
    plan = CarePlan(id=uuid.uuid4(), patient_id=patient_id, title=f"{name}'s recovery plan")
    s.add(plan)
    s.flush()
    goal = Goal(
        id=uuid.uuid4(),
        patient_id=patient_id,
        care_plan_id=plan.id,
        title=f"{name} sleeps seven hours",
        progress_percent=40,
        ordering=1,
    )
    s.add(goal)
    world.goals[key] = goal.id
    for visible, subject in ((True, f"{name} reminder"), (False, f"{name} internal call note")):
        s.add(
            Communication(
                patient_id=patient_id,
                channel=CommunicationChannel.SMS,
                direction=Direction.OUTBOUND,
                subject=subject,
                body="<script>alert('x')</script> See you soon.",
                sent_at=now - timedelta(days=1),
                effective_at=now - timedelta(days=1),
                visible_to_patient=visible,
            )
        )


def add_account(s: Session, *, patient_id: uuid.UUID, email: str, born: date) -> uuid.UUID:
    """A portal account opened the way a patient does: invite, then redeem."""
    invite = issue_invite(session=s, patient_id=patient_id, created_by_id=None)
    outcome = redeem_invite(
        session=s,
        token=invite.token,
        birth_date=born,
        email=email,
        password_hash=PASSWORD_HASH,
        address="127.0.0.1",
    )
    assert outcome.account_id is not None, outcome
    return outcome.account_id


def add_visits(engine: Engine, world: PortalWorld, address: str) -> dict[str, uuid.UUID]:
    """A visit today for Ana and Ben (committed); ``address`` becomes Ana's e-mail."""
    now = datetime.now(UTC)
    visits = {}
    with transaction(engine) as s:
        for key in ("ana", "ben"):
            visit = Encounter(
                id=uuid.uuid4(), patient_id=world.patients[key], period_start=now, effective_at=now
            )
            s.add(visit)
            visits[key] = visit.id
        s.add(
            ContactPoint(
                patient_id=world.patients["ana"], system=ContactSystem.EMAIL, value=address
            )
        )
    return visits
