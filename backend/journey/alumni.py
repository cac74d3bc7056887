"""Alumni programs: life after discharge, where recovery is kept up and measured.

Imported through :mod:`backend.journey.models`; do not import this module on its own from
other domains.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.mixins import PatientRecord, Tracked
from backend.db import Base


class AlumniProgram(Tracked, Base):
    """An alumni community run by a site (meetings, events, check-ins).

    FHIR: no direct resource; exported as a ``Group`` (type person, actual) whose members
    are the active :class:`AlumniMembership` rows.
    """

    __tablename__ = "alumni_program"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )
    coordinator_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    contact_email: Mapped[str | None] = mapped_column(String(255), default=None)
    active: Mapped[bool] = mapped_column(default=True)

    events: Mapped[list[AlumniEvent]] = relationship(lazy="raise", back_populates="program")


class MembershipStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    PAUSED = "paused"
    LEFT = "left"


class AlumniMembership(PatientRecord, Base):
    """A former patient's membership of an alumni program.

    FHIR: ``Group.member`` (with its period) of the program's Group; check-ins hang off it.
    """

    __tablename__ = "alumni_membership"
    __extra_table_args__ = (
        Index("ix_alumni_membership_program_id_status", "program_id", "status"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alumni_program.id", ondelete="RESTRICT")
    )
    status: Mapped[MembershipStatus] = mapped_column(default=MembershipStatus.INVITED)
    invited_at: Mapped[datetime | None] = mapped_column(default=None)
    joined_at: Mapped[datetime | None] = mapped_column(default=None)
    left_at: Mapped[datetime | None] = mapped_column(default=None)
    left_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    mentor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    # The discharge that made the patient an alumnus (None for members from imports).
    discharge_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("discharge.id", ondelete="SET NULL"), default=None
    )

    program: Mapped[AlumniProgram] = relationship(lazy="raise")
    check_ins: Mapped[list[AlumniCheckIn]] = relationship(lazy="raise", back_populates="membership")


class AlumniEventKind(enum.StrEnum):
    MEETING = "meeting"
    WORKSHOP = "workshop"
    SOCIAL = "social"
    VOLUNTEER = "volunteer"
    WEBINAR = "webinar"


class AlumniEvent(Tracked, Base):
    """One dated event of an alumni program; reference data, not a patient record.

    FHIR: no direct resource; attendance is exported as ``Appointment`` participants.
    """

    __tablename__ = "alumni_event"
    __extra_table_args__ = (
        Index("ix_alumni_event_program_id_starts_at", "program_id", "starts_at"),
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alumni_program.id", ondelete="RESTRICT")
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    kind: Mapped[AlumniEventKind]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None
    )
    venue: Mapped[str | None] = mapped_column(String(200), default=None)  # off-site address
    online_url: Mapped[str | None] = mapped_column(String(500), default=None)
    capacity: Mapped[int | None] = mapped_column(default=None)
    host_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)

    program: Mapped[AlumniProgram] = relationship(lazy="raise", back_populates="events")
    attendances: Mapped[list[AlumniEventAttendance]] = relationship(
        lazy="raise", back_populates="event"
    )


class AttendanceStatus(enum.StrEnum):
    REGISTERED = "registered"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class AlumniEventAttendance(PatientRecord, Base):
    """A patient's registration for (and attendance at) one alumni event.

    FHIR: ``Appointment.participant`` (status accepted / declined, plus noshow on the
    Appointment side). One row per patient and event.
    """

    __tablename__ = "alumni_event_attendance"
    __extra_table_args__ = (UniqueConstraint("event_id", "patient_id"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alumni_event.id", ondelete="RESTRICT"), index=True
    )
    membership_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("alumni_membership.id", ondelete="SET NULL"), default=None, index=True
    )
    status: Mapped[AttendanceStatus] = mapped_column(default=AttendanceStatus.REGISTERED)
    registered_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)

    event: Mapped[AlumniEvent] = relationship(lazy="raise", back_populates="attendances")


class CheckInChannel(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    VIDEO = "video"
    IN_PERSON = "in_person"
    PORTAL = "portal"
    EMAIL = "email"


class RecoveryStatus(enum.StrEnum):
    """Self-reported recovery at a check-in. ``not_applicable`` for patients treated for
    other than substance use (their recovery is the wellbeing score)."""

    STABLE = "stable"
    STRUGGLING = "struggling"
    LAPSE = "lapse"  # a single use, back on track
    RELAPSE = "relapse"
    IN_CRISIS = "in_crisis"
    NOT_APPLICABLE = "not_applicable"


class AlumniCheckIn(PatientRecord, Base):
    """A periodic aftercare check-in with an alumnus.

    FHIR: an ``Encounter`` (class by channel) with ``Observation``s for the wellbeing score
    and recovery status. Substance-use check-ins carry Sensitivity.PART2.
    """

    __tablename__ = "alumni_check_in"
    __extra_table_args__ = (
        CheckConstraint(
            "wellbeing_score IS NULL OR wellbeing_score BETWEEN 1 AND 10",
            name="wellbeing_score_range",
        ),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("alumni_membership.id", ondelete="RESTRICT"), index=True
    )
    channel: Mapped[CheckInChannel]
    checked_in_at: Mapped[datetime]
    wellbeing_score: Mapped[int | None] = mapped_column(default=None)  # 1 (worst) to 10
    recovery_status: Mapped[RecoveryStatus | None] = mapped_column(default=None)
    days_since_last_use: Mapped[int | None] = mapped_column(default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    needs_follow_up: Mapped[bool] = mapped_column(default=False)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )

    membership: Mapped[AlumniMembership] = relationship(lazy="raise", back_populates="check_ins")
