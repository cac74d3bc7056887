"""The demo clinic: one organization, three sites, staff for every role, six care teams."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.accounts.passwords import hash_password
from backend.demo.context import DemoContext, new_id
from backend.demo.sink import RowSink
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)

ORGANIZATION = "Harborview Behavioral Health"
LOCATIONS = (
    ("Harborview Back Bay", "420 Boylston St", "Boston", "02116"),
    ("Harborview Cambridge", "1 Brattle Sq", "Cambridge", "02138"),
    ("Harborview Worcester", "100 Front St", "Worcester", "01608"),
)
# (team, location index, program). The demo logins join every team but the last, so each
# role's view can be compared on most patients while row scoping still hides some.
TEAMS = (
    ("Back Bay Outpatient", 0, "outpatient"),
    ("Back Bay Intensive Outpatient", 0, "intensive_outpatient"),
    ("Cambridge Outpatient", 1, "outpatient"),
    ("Cambridge Recovery", 1, "intensive_outpatient"),
    ("Worcester Outpatient", 2, "outpatient"),
    ("Worcester Intensive Outpatient", 2, "intensive_outpatient"),
)
# Colleagues besides the demo login of each role: (display name, credentials).
COLLEAGUES: dict[StaffRole, tuple[tuple[str, str | None], ...]] = {
    StaffRole.PHYSICIAN: (
        ("Dr. Amara Okafor", "MD"),
        ("Dr. Daniel Reyes", "DO"),
        ("Dr. Helen Park", "MD"),
    ),
    StaffRole.NURSE: (("Grace Sullivan", "RN"), ("Marcus Bell", "RN"), ("Ines Carvalho", "NP")),
    StaffRole.THERAPIST: (
        ("Noah Brennan", "LICSW"),
        ("Priya Natarajan", "PhD"),
        ("Luis Ortega", "LMHC"),
        ("Hannah Weiss", "LCSW"),
        ("Samuel Adeyemi", "LADC I"),
    ),
    StaffRole.CARE_COORDINATOR: (("Olivia Chen", None), ("Derek Walsh", None)),
    StaffRole.FRONT_DESK: (("Maria Lopez", None), ("Kevin O'Neill", None)),
    StaffRole.BILLING: (("Janet Morris", None),),
    StaffRole.ALUMNI_COORDINATOR: (("Terrence Hall", "CARC"),),
}
DEMO_LOGINS: dict[StaffRole, tuple[str, str | None]] = {
    StaffRole.FRONT_DESK: ("Fran Desk (front desk)", None),
    StaffRole.NURSE: ("Nora Nurse", "RN"),
    StaffRole.PHYSICIAN: ("Dr. Phil Physician", "MD"),
    StaffRole.THERAPIST: ("Thea Therapist", "LICSW"),
    StaffRole.CARE_COORDINATOR: ("Cora Coordinator", None),
    StaffRole.BILLING: ("Bill Billing", None),
    StaffRole.ALUMNI_COORDINATOR: ("Al Alumni", "CARC"),
    StaffRole.ADMIN: ("Ada Admin", None),
    StaffRole.AUDITOR: ("Audrey Auditor", None),
}
TEAM_ROLE: dict[StaffRole, CareTeamRole] = {
    StaffRole.PHYSICIAN: CareTeamRole.PHYSICIAN,
    StaffRole.NURSE: CareTeamRole.NURSE,
    StaffRole.THERAPIST: CareTeamRole.THERAPIST,
    StaffRole.CARE_COORDINATOR: CareTeamRole.CARE_COORDINATOR,
    StaffRole.FRONT_DESK: CareTeamRole.FRONT_DESK,
    StaffRole.BILLING: CareTeamRole.BILLING,
    StaffRole.ALUMNI_COORDINATOR: CareTeamRole.ALUMNI_COORDINATOR,
}
_WORDS = (
    "amber",
    "birch",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "grove",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "meadow",
    "nimbus",
    "orchid",
    "pebble",
    "quartz",
    "river",
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: StaffRole


def new_password() -> str:
    """A fresh, typeable password: the demo logins are real accounts, never a fixed secret."""
    words = "-".join(secrets.choice(_WORDS) for _ in range(3))
    return f"{words}-{secrets.randbelow(900) + 100}"


def build_clinic(seed: int, today: date, sink: RowSink) -> tuple[DemoContext, list[DemoLogin]]:
    """Queue the clinic's rows and return the context patients are generated in."""
    ctx = DemoContext(seed=seed, today=today, staff={}, location_ids=[], care_teams={})
    rng = ctx.rng(None, "clinic")
    org_id = sink.add(
        Organization,
        name=ORGANIZATION,
        kind=OrganizationKind.PROVIDER,
        npi="1457390286",
        phone="+16175550100",
        email="info@harborview.example.org",
    )
    for name, line1, city, postal in LOCATIONS:
        ctx.location_ids.append(
            sink.add(
                Location,
                organization_id=org_id,
                name=name,
                line1=line1,
                city=city,
                state="MA",
                postal_code=postal,
                timezone="America/New_York",
            )
        )
    logins: list[DemoLogin] = []
    for role, (display, creds) in DEMO_LOGINS.items():
        password = new_password()
        user_id = _staff(
            sink,
            rng,
            role,
            username=role.value,
            display=display,
            creds=creds,
            location_id=ctx.location_ids[0],
            password_hash=hash_password(password),
        )
        ctx.staff.setdefault(role, []).append(user_id)
        logins.append(DemoLogin(role.value, password, role))
    for role, people in COLLEAGUES.items():
        for n, (display, creds) in enumerate(people):
            username = f"{role.value}.{display.split()[-1].lower().replace(chr(39), '')}"
            user_id = _staff(
                sink,
                rng,
                role,
                username=username,
                display=display,
                creds=creds,
                location_id=ctx.location_ids[n % len(LOCATIONS)],
                password_hash=None,
            )
            ctx.staff[role].append(user_id)
    ctx.staff[StaffRole.INTEGRATION] = []
    _care_teams(ctx, sink, rng)
    return ctx, logins


def _staff(
    sink: RowSink,
    rng: Any,
    role: StaffRole,
    *,
    username: str,
    display: str,
    creds: str | None,
    location_id: uuid.UUID,
    password_hash: str | None,
) -> uuid.UUID:
    user_id = sink.add(
        StaffUser,
        id=new_id(rng),
        username=username,
        display_name=display,
        credentials=creds,
        email=f"{username}@harborview.example.org",
        location_id=location_id,
        password_hash=password_hash,
    )
    sink.add(StaffRoleAssignment, staff_user_id=user_id, role=role)
    return user_id


def _care_teams(ctx: DemoContext, sink: RowSink, rng: Any) -> None:
    for index, (name, location_index, program) in enumerate(TEAMS):
        location_id = ctx.location_ids[location_index]
        team_id = sink.add(CareTeam, name=name, location_id=location_id, program=program)
        members: dict[StaffRole, list[uuid.UUID]] = {}
        for role, team_role in TEAM_ROLE.items():
            holders = ctx.staff[role]
            colleagues = holders[1:] or holders
            chosen = [colleagues[index % len(colleagues)]]
            if role is StaffRole.THERAPIST:
                chosen.append(colleagues[(index + 2) % len(colleagues)])
            if index < len(TEAMS) - 1:
                chosen.insert(0, holders[0])  # the demo login
            for staff_id in dict.fromkeys(chosen):
                sink.add(
                    CareTeamMember,
                    care_team_id=team_id,
                    staff_user_id=staff_id,
                    role=team_role,
                    start_date=date(ctx.today.year - 3, 1, 1),
                )
            members[role] = list(dict.fromkeys(chosen))
        ctx.care_teams[team_id] = {
            "location_id": location_id,
            "members": members,
            "program": program,
        }
