"""Organizations, locations and care teams: what row-level access is scoped by."""

from __future__ import annotations

import enum
import uuid
from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.columns import coded
from backend.common.mixins import Tracked
from backend.common.types import Code
from backend.db import Base


class OrganizationKind(enum.StrEnum):
    PROVIDER = "provider"  # a clinic or program of ours
    PAYER = "payer"
    REFERRER = "referrer"  # hospital, court, EAP, school ... that sends patients
    EXTERNAL_PROVIDER = "external_provider"  # another provider, known from imported records
    OTHER = "other"


class Organization(Tracked, Base):
    __tablename__ = "organization"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganizationKind]
    npi: Mapped[str | None] = mapped_column(String(10), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    # FHIR Organization.type (organization-type: prov, ins, pay, edu ...); ``kind`` is ours.
    org_type: Mapped[Code | None] = coded("type", nullable=True)
    # Organization.address (the first one), same columns as Location.
    line1: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(64), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(16), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166-1 alpha-2


class Location(Tracked, Base):
    """A site where patients are seen; front-desk staff see the patients of theirs."""

    __tablename__ = "location"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    line1: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    state: Mapped[str | None] = mapped_column(String(64), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(16), default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    active: Mapped[bool] = mapped_column(default=True)

    organization: Mapped[Organization] = relationship(lazy="raise")


class CareTeamRole(enum.StrEnum):
    """What a staff member does on a team (not their access role)."""

    LEAD_CLINICIAN = "lead_clinician"
    PHYSICIAN = "physician"
    NURSE = "nurse"
    THERAPIST = "therapist"
    CARE_COORDINATOR = "care_coordinator"
    CASE_MANAGER = "case_manager"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    ALUMNI_COORDINATOR = "alumni_coordinator"
    PEER_SUPPORT = "peer_support"


class CareTeam(Tracked, Base):
    """A group of staff who look after a set of patients: the unit of row scoping."""

    __tablename__ = "care_team"

    name: Mapped[str] = mapped_column(String(200))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    program: Mapped[str | None] = mapped_column(String(100), default=None)
    active: Mapped[bool] = mapped_column(default=True)

    members: Mapped[list[CareTeamMember]] = relationship(lazy="raise", back_populates="team")


class CareTeamMember(Tracked, Base):
    __tablename__ = "care_team_member"
    __extra_table_args__ = (UniqueConstraint("care_team_id", "staff_user_id", "role"),)

    care_team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_team.id", ondelete="CASCADE"), index=True
    )
    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[CareTeamRole]
    start_date: Mapped[date | None] = mapped_column(default=None)
    end_date: Mapped[date | None] = mapped_column(default=None)

    team: Mapped[CareTeam] = relationship(lazy="raise", back_populates="members")


class CareTeamPatient(Tracked, Base):
    """A patient under a care team's care, for a period."""

    __tablename__ = "care_team_patient"
    __extra_table_args__ = (UniqueConstraint("care_team_id", "patient_id"),)

    care_team_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("care_team.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    start_date: Mapped[date | None] = mapped_column(default=None)
    end_date: Mapped[date | None] = mapped_column(default=None)
