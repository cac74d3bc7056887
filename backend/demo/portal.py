"""Demo portal sign-ins: a few demo patients get a portal account so a new user can see
the portal from the patient's side right after ``make run``.

Chosen after the patients are written, by what they have (an upcoming appointment and a
care plan; an active alumni membership), so the pages they open are not empty. Passwords
are fresh on every run, like the staff logins: the demo never ships a fixed secret.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, exists, insert, select

from backend.accounts.models import PortalAccount, PortalAccountStatus
from backend.accounts.passwords import hash_password
from backend.careplans.models import CarePlan
from backend.demo.clinic import new_password
from backend.journey.alumni import AlumniMembership, MembershipStatus
from backend.patients.models import Patient, PatientStatus
from backend.scheduling.models import Appointment


@dataclass(frozen=True, slots=True)
class PortalLogin:
    email: str
    password: str
    who: str  # what this patient shows, for the printed table


def _first(connection: Connection, *conditions: object) -> tuple[uuid.UUID, str] | None:
    row = connection.execute(
        select(Patient.id, Patient.given_name)
        .where(
            Patient.status == PatientStatus.ACTIVE,
            Patient.deleted_at.is_(None),
            Patient.birth_date.is_not(None),
            *conditions,  # type: ignore[arg-type]
        )
        .order_by(Patient.family_name, Patient.given_name, Patient.id)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def add_portal_logins(connection: Connection, *, now: datetime) -> list[PortalLogin]:
    """Open portal accounts for up to two demo patients and return their sign-ins."""
    choices = (
        (
            "upcoming appointment and a care plan",
            (
                exists().where(Appointment.patient_id == Patient.id, Appointment.start_at > now),
                exists().where(CarePlan.patient_id == Patient.id),
            ),
        ),
        (
            "alumni member",
            (
                exists().where(
                    AlumniMembership.patient_id == Patient.id,
                    AlumniMembership.status == MembershipStatus.ACTIVE,
                ),
            ),
        ),
    )
    logins: list[PortalLogin] = []
    taken: set[uuid.UUID] = set()
    for number, (who, conditions) in enumerate(choices, start=1):
        found = _first(connection, Patient.id.not_in(taken), *conditions)
        if found is None:
            continue
        patient_id, given = found
        taken.add(patient_id)
        email = f"portal.demo{number}@patient360.invalid"
        password = new_password()
        connection.execute(
            insert(PortalAccount).values(
                # Seeded like every other demo row: same seed, same ids and times.
                id=uuid.uuid5(patient_id, "portal-account"),
                source_id=f"demo-portal-{number}",
                recorded_at=now,
                updated_at=now,
                patient_id=patient_id,
                login_email=email,
                password_hash=hash_password(password),
                status=PortalAccountStatus.ACTIVE,
                activated_at=now,
            )
        )
        logins.append(PortalLogin(email, password, f"{given}: {who}"))
    return logins
