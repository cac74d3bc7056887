"""Patient feedback: survey invitations and responses (NPS, CSAT), reviews, testimonials.

Imported through :mod:`backend.engagement.models`. A survey link is a one-time token:
only its SHA-256 hash is stored, and one response per invitation is enforced by a unique
key so a link replayed twice cannot count twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.mixins import PatientRecord
from backend.db import Base
from backend.engagement.enums import CommunicationChannel


class SurveyKind(enum.StrEnum):
    VISIT = "visit"  # after an encounter
    DISCHARGE = "discharge"
    ALUMNI = "alumni"
    NPS_PERIODIC = "nps_periodic"


class SurveyInvitation(PatientRecord, Base):
    """A one-time link inviting the patient to a satisfaction survey.

    FHIR: a ``Task`` (code "complete-questionnaire") whose ``focus`` is the Questionnaire,
    sent by a ``Communication``; ``expires_at`` is ``Task.restriction.period.end``.
    """

    __tablename__ = "survey_invitation"
    __extra_table_args__ = (
        Index("ix_survey_invitation_survey_kind_sent_at", "survey_kind", "sent_at"),
    )

    survey_kind: Mapped[SurveyKind]
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounter.id", ondelete="SET NULL"), default=None, index=True
    )
    discharge_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("discharge.id", ondelete="SET NULL"), default=None, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256
    channel: Mapped[CommunicationChannel]
    # The message that carried the link.
    communication_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("communication.id", ondelete="SET NULL"), default=None
    )
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    reminders_sent: Mapped[int] = mapped_column(default=0)

    response: Mapped[SurveyResponse | None] = relationship(
        lazy="raise", back_populates="invitation"
    )


class SurveyVia(enum.StrEnum):
    LINK = "link"  # the one-time link of the invitation
    PORTAL = "portal"
    STAFF = "staff"  # read out and entered by staff (author_id)


class SurveyResponse(PatientRecord, Base):
    """A submitted satisfaction survey: FHIR ``QuestionnaireResponse`` (status completed)
    with NPS (0-10) and CSAT (1-5) as its scored items."""

    __tablename__ = "survey_response"
    __extra_table_args__ = (
        CheckConstraint("nps IS NULL OR nps BETWEEN 0 AND 10", name="nps_range"),
        CheckConstraint("csat IS NULL OR csat BETWEEN 1 AND 5", name="csat_range"),
        Index("ix_survey_response_submitted_at", "submitted_at"),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="RESTRICT"), unique=True
    )
    nps: Mapped[int | None] = mapped_column(default=None)
    csat: Mapped[int | None] = mapped_column(default=None)
    comments: Mapped[str | None] = mapped_column(Text, default=None)
    # Further items by linkId, e.g. {"felt_respected": 5, "would_return": true}.
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]
    via: Mapped[SurveyVia] = mapped_column(default=SurveyVia.LINK)

    invitation: Mapped[SurveyInvitation] = relationship(lazy="raise", back_populates="response")


class ReviewKind(enum.StrEnum):
    TESTIMONIAL = "testimonial"  # written for us to publish
    ONLINE_REVIEW = "online_review"  # posted on a third-party platform
    INTERNAL_FEEDBACK = "internal_feedback"  # complaint or compliment, never published


class ReviewPlatform(enum.StrEnum):
    GOOGLE = "google"
    YELP = "yelp"
    FACEBOOK = "facebook"
    HEALTHGRADES = "healthgrades"
    TRUSTPILOT = "trustpilot"
    WEBSITE = "website"  # our own site's testimonial page
    INTERNAL = "internal"
    OTHER = "other"


class ModerationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    HIDDEN = "hidden"  # was approved, taken down (e.g. consent revoked)


class Review(PatientRecord, Base):
    """A testimonial, an online review or internal feedback from a patient.

    FHIR R4 has no review resource: export as a ``QuestionnaireResponse`` (rating, title,
    body items) or, for publication proof, a ``DocumentReference`` linked to the
    testimonial ``Consent``. Publishing needs ``consent_to_publish`` and no later
    ``publish_consent_revoked_at``: a revoked testimonial must be taken down.
    """

    __tablename__ = "review"
    __extra_table_args__ = (
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_review_kind_moderation_status", "kind", "moderation_status"),
    )

    kind: Mapped[ReviewKind]
    platform: Mapped[ReviewPlatform] = mapped_column(default=ReviewPlatform.INTERNAL)
    rating: Mapped[int | None] = mapped_column(default=None)  # stars, 1-5
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    external_url: Mapped[str | None] = mapped_column(String(500), default=None)
    display_name: Mapped[str | None] = mapped_column(String(100), default=None)  # "Jamie R."
    consent_to_publish: Mapped[bool] = mapped_column(default=False)
    consent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("consent.id", ondelete="SET NULL"), default=None
    )
    publish_consent_at: Mapped[datetime | None] = mapped_column(default=None)
    publish_consent_revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    moderation_status: Mapped[ModerationStatus] = mapped_column(default=ModerationStatus.PENDING)
    moderated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    moderated_at: Mapped[datetime | None] = mapped_column(default=None)
    # The clinic's public reply on the platform, if any.
    reply_body: Mapped[str | None] = mapped_column(Text, default=None)
    replied_at: Mapped[datetime | None] = mapped_column(default=None)
