"""Staff users, their access roles, portal accounts and portal invites."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.mixins import Tracked, utcnow
from backend.db import Base


class StaffRole(enum.StrEnum):
    """Access roles: the subjects of the Casbin policy in ``policies/``."""

    FRONT_DESK = "front_desk"
    NURSE = "nurse"
    PHYSICIAN = "physician"
    THERAPIST = "therapist"
    CARE_COORDINATOR = "care_coordinator"
    BILLING = "billing"
    ALUMNI_COORDINATOR = "alumni_coordinator"
    ADMIN = "admin"
    AUDITOR = "auditor"
    INTEGRATION = "integration"


class StaffUser(Tracked, Base):
    __tablename__ = "staff_user"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    # argon2id PHC string; None for integration users that only use OAuth2 clients.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    credentials: Mapped[str | None] = mapped_column(String(64), default=None)  # MD, RN, LCSW
    npi: Mapped[str | None] = mapped_column(String(10), default=None)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # FHIR Practitioner: outside clinicians named in imported records are staff users with
    # no password, no roles and active=False, so encounters and orders can point at them.
    given_name: Mapped[str | None] = mapped_column(String(100), default=None)  # name.given
    family_name: Mapped[str | None] = mapped_column(String(100), default=None)  # name.family
    name_prefix: Mapped[str | None] = mapped_column(String(20), default=None)  # name.prefix
    gender: Mapped[str | None] = mapped_column(String(16), default=None)  # administrative-gender
    address: Mapped[list[Any] | None] = mapped_column(default=None)  # Practitioner.address[]

    roles: Mapped[list[StaffRoleAssignment]] = relationship(
        lazy="raise", back_populates="staff_user", foreign_keys="StaffRoleAssignment.staff_user_id"
    )


class StaffRoleAssignment(Tracked, Base):
    __tablename__ = "staff_role_assignment"
    __extra_table_args__ = (UniqueConstraint("staff_user_id", "role"),)

    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[StaffRole]
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )

    staff_user: Mapped[StaffUser] = relationship(
        lazy="raise", back_populates="roles", foreign_keys=[staff_user_id]
    )


class PortalAccountStatus(enum.StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    DISABLED = "disabled"


class PortalAccount(Tracked, Base):
    """A patient's sign-in to the portal. One per patient."""

    __tablename__ = "portal_account"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), unique=True
    )
    login_email: Mapped[str] = mapped_column(String(255), unique=True)  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[PortalAccountStatus] = mapped_column(default=PortalAccountStatus.ACTIVE)
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set when this account's patient was merged into one that has its own account: the
    # survivor's sign-in is kept, this one is disabled and names it, so the portal can
    # tell the patient which sign-in to use (backend/identity/merge.py).
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portal_account.id", ondelete="SET NULL"), default=None
    )


class PortalInvite(Tracked, Base):
    """A one-time link to open a portal account. Only the token's hash is stored."""

    __tablename__ = "portal_invite"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
