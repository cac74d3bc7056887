"""A small clinic for MPI review and merge tests: one team, staff, duplicate patients,
and possible-duplicate links written the way the matcher writes them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from backend.access.principal import Principal, PrincipalKind
from backend.accounts.models import PortalAccount, StaffUser
from backend.clinical.models import Allergy, Condition
from backend.common.types import Code
from backend.engagement.models import CommunicationSettings
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.organization.models import (
    CareTeam,
    CareTeamPatient,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import (
    ContactPoint,
    ContactSystem,
    IdentifierKind,
    Patient,
    PatientIdentifier,
)

NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)
ICD = "http://hl7.org/fhir/sid/icd-10-cm"

EVIDENCE: dict[str, Any] = {
    "given_name": {"agreement": "partial", "level": "nickname", "weight": 1.9},
    "family_name": {"agreement": "exact", "level": "exact", "weight": 4.6},
    "birth_date": {"agreement": "exact", "level": "exact", "weight": 5.1},
    "phone": {"agreement": "missing", "level": "missing", "weight": 0.0},
    "_total": 11.6,
}


@dataclass
class Clinic:
    tag: str
    team: uuid.UUID
    other_team: uuid.UUID
    location: uuid.UUID
    staff: dict[str, uuid.UUID] = field(default_factory=dict)

    def principal(self, role: str, *, teams: tuple[uuid.UUID, ...] | None = None) -> Principal:
        who = self.staff.setdefault(role, uuid.uuid4())
        return Principal(
            kind=PrincipalKind.STAFF,
            subject_id=who,
            username=f"{role}-{self.tag}",
            roles=frozenset({role}),
            care_team_ids=frozenset((self.team,) if teams is None else teams),
        )


def clinic(session: Session) -> Clinic:
    tag = uuid.uuid4().hex[:8]
    org = Organization(id=uuid.uuid4(), name=f"Clinic {tag}", kind=OrganizationKind.PROVIDER)
    session.add(org)
    session.flush()
    loc = Location(id=uuid.uuid4(), organization_id=org.id, name=f"Main {tag}")
    session.add(loc)
    session.flush()
    team = CareTeam(id=uuid.uuid4(), name=f"A {tag}", location_id=loc.id)
    other = CareTeam(id=uuid.uuid4(), name=f"B {tag}", location_id=loc.id)
    session.add_all([team, other])
    world = Clinic(tag=tag, team=team.id, other_team=other.id, location=loc.id)
    for role in ("care_coordinator", "front_desk", "physician", "admin", "billing"):
        user = StaffUser(id=uuid.uuid4(), username=f"{role}-{tag}", display_name=role)
        session.add(user)
        world.staff[role] = user.id
    session.flush()
    return world


def patient(
    session: Session,
    world: Clinic,
    given: str,
    *,
    team: uuid.UUID | None = None,
    start: date | None = None,
    end: date | None = None,
    recorded_at: datetime | None = None,
) -> uuid.UUID:
    row = Patient(
        id=uuid.uuid4(),
        given_name=given,
        family_name=f"Whitfield{world.tag}",
        birth_date=date(1987, 4, 9),
        recorded_at=recorded_at or NOW - timedelta(days=30),
    )
    session.add(row)
    session.flush()
    session.add(
        CareTeamPatient(
            care_team_id=team or world.team, patient_id=row.id, start_date=start, end_date=end
        )
    )
    session.flush()
    return row.id


def chart(session: Session, patient_id: uuid.UUID, n: int, *, source: str = "ehr-a") -> list[Any]:
    """A few records in several tables, with provenance from a named source."""
    rows: list[Any] = [
        Condition(
            patient_id=patient_id,
            code=Code(ICD, f"F3{n}.1", f"Dx {n}"),
            source_system=source,
            source_id=f"cond-{uuid.uuid4().hex[:10]}",
        ),
        Allergy(patient_id=patient_id, code=Code("rx", f"79{n}", f"Allergy {n}")),
        ContactPoint(patient_id=patient_id, system=ContactSystem.PHONE, value=f"+1555000{n:04d}"),
        PatientIdentifier(
            patient_id=patient_id, kind=IdentifierKind.MRN, system=source, value=f"MRN-{n}"
        ),
    ]
    session.add_all(rows)
    session.flush()
    return rows


def settings_row(session: Session, patient_id: uuid.UUID) -> uuid.UUID:
    row = CommunicationSettings(id=uuid.uuid4(), patient_id=patient_id)
    session.add(row)
    session.flush()
    return row.id


def portal_account(session: Session, patient_id: uuid.UUID, email: str) -> uuid.UUID:
    row = PortalAccount(
        id=uuid.uuid4(), patient_id=patient_id, login_email=email, password_hash="x" * 20
    )
    session.add(row)
    session.flush()
    return row.id


def possible_link(
    session: Session,
    a: uuid.UUID,
    b: uuid.UUID,
    *,
    score: float = 0.87,
    status: LinkStatus = LinkStatus.OPEN,
    method: LinkMethod = LinkMethod.AUTOMATIC,
    recorded_at: datetime | None = None,
) -> uuid.UUID:
    """A link as the matcher (h3's backend/mpi) writes it."""
    link = IdentityLink(
        id=uuid.uuid4(),
        patient_a_id=a,
        patient_b_id=b,
        kind=LinkKind.POSSIBLE_DUPLICATE,
        status=status,
        method=method,
        score=score,
        match_evidence=EVIDENCE,
        matcher_version="test-1",
        recorded_at=recorded_at or NOW - timedelta(days=2),
    )
    session.add(link)
    session.flush()
    return link.id
