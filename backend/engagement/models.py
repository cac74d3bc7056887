"""Engagement: every message to and from a patient, and how they want to be reached.

Communications are one table whatever the channel (an SMS reminder, a 20-minute phone
call, a portal thread) so the patient timeline and the "last contact" figures read one
index. Preferences are a sparse (channel x message type) matrix: a missing cell means the
clinic default, and every change is kept as an insert-only :class:`PreferenceChange`
because opt-outs must be provable (TCPA, CAN-SPAM).

Consents live in :mod:`backend.engagement.consent`, surveys and reviews in
:mod:`backend.engagement.feedback`; both are re-exported here for ``backend.models``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from backend.common.mixins import PatientRecord, Tracked
from backend.db import Base
from backend.engagement.consent import (
    Consent,
    ConsentKind,
    ConsentSource,
    ConsentStatus,
    ProvisionType,
    RecipientType,
)
from backend.engagement.enums import (
    CommunicationChannel,
    Direction,
    MessageType,
    PreferenceChannel,
)
from backend.engagement.feedback import (
    ModerationStatus,
    Review,
    ReviewKind,
    ReviewPlatform,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    SurveyVia,
)


class Campaign(Tracked, Base):
    """A bulk send (newsletter, alumni event invitation, survey wave): what a
    communication's ``campaign_id`` points to. FHIR: the ``basedOn`` of a Communication
    (exported as a CommunicationRequest)."""

    __tablename__ = "campaign"

    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[CommunicationChannel]
    message_type: Mapped[MessageType]
    description: Mapped[str | None] = mapped_column(Text, default=None)
    audience: Mapped[str | None] = mapped_column(Text, default=None)  # who it targets, in words
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )


class CommunicationStatus(enum.StrEnum):
    """Delivery state. FHIR Communication.status is coarser: queued -> preparation,
    failed/bounced -> not-done (statusReason = failed_reason), the rest -> completed."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    REPLIED = "replied"
    FAILED = "failed"
    BOUNCED = "bounced"
    RECEIVED = "received"  # inbound, arrived


class ReminderKind(enum.StrEnum):
    """Why an automated reminder went out (None for conversation)."""

    APPOINTMENT = "appointment"
    TASK_DUE = "task_due"
    FORM_DUE = "form_due"
    MEDICATION_REFILL = "medication_refill"
    CARE_PLAN_REVIEW = "care_plan_review"
    SURVEY = "survey"
    PAYMENT_DUE = "payment_due"
    ALUMNI_EVENT = "alumni_event"


class Communication(PatientRecord, Base):
    """One message or call between the clinic and a patient: FHIR ``Communication``.

    ``effective_at`` is set to ``sent_at`` so the timeline index serves message lists.

    ``medium`` = channel, ``category`` = message_type, ``inResponseTo`` = in_reply_to,
    ``basedOn`` = the task or campaign that caused it, ``about`` = (about_type, about_id),
    ``payload`` = subject/body/attachments. For outbound rows ``sent_at`` is FHIR
    ``sent`` and ``delivered_at`` is ``received``; for inbound rows ``sent_at`` is when the
    patient sent it and ``delivered_at`` when it reached us. ``thread_id`` points to the
    first message of a conversation (itself for the first message, or None).
    """

    __tablename__ = "communication"
    __extra_table_args__ = (
        Index("ix_communication_channel_status", "channel", "status"),
        Index("ix_communication_about", "about_type", "about_id"),
        CheckConstraint(
            "duration_seconds IS NULL OR duration_seconds >= 0", name="duration_non_negative"
        ),
    )

    channel: Mapped[CommunicationChannel]
    direction: Mapped[Direction]
    status: Mapped[CommunicationStatus] = mapped_column(default=CommunicationStatus.QUEUED)
    message_type: Mapped[MessageType | None] = mapped_column(default=None)
    reminder_kind: Mapped[ReminderKind | None] = mapped_column(default=None)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None, index=True
    )
    # The number or address actually used: contact points change, history must not.
    patient_address: Mapped[str | None] = mapped_column(String(255), default=None)
    clinic_address: Mapped[str | None] = mapped_column(String(255), default=None)
    subject: Mapped[str | None] = mapped_column(String(255), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    # [{"content_type", "title", "url" | "document_id", "size"}]: FHIR contentAttachment.
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    replied_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    duration_seconds: Mapped[int | None] = mapped_column(default=None)  # calls and video
    # The SMS/e-mail gateway's message id: delivery webhooks look rows up by it.
    gateway_message_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("communication.id", ondelete="SET NULL"), default=None, index=True
    )
    in_reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("communication.id", ondelete="SET NULL"), default=None
    )
    task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("task.id", ondelete="SET NULL"), default=None, index=True
    )
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), default=None, index=True
    )
    # FHIR Communication.about: what the message concerns (appointment, encounter,
    # invoice, survey_invitation ...), by table name and id, without a foreign key.
    about_type: Mapped[str | None] = mapped_column(String(64), default=None)
    about_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    visible_to_patient: Mapped[bool] = mapped_column(default=True)

    campaign: Mapped[Campaign | None] = relationship(lazy="raise")
    in_reply_to: Mapped[Communication | None] = relationship(
        lazy="raise", remote_side="Communication.id", foreign_keys=[in_reply_to_id]
    )
    thread_messages: Mapped[list[Communication]] = relationship(
        lazy="raise",
        foreign_keys=[thread_id],
        order_by="Communication.sent_at",
    )


class ContactPreference(PatientRecord, Base):
    """Whether the patient allows one message type on one channel.

    A sparse matrix: no row means the clinic default (marketing: off; care messages: on).
    FHIR: a ``Consent`` (scope patient-privacy) provision per (channel, purpose) on export.
    """

    __tablename__ = "contact_preference"
    __extra_table_args__ = (UniqueConstraint("patient_id", "channel", "message_type"),)

    channel: Mapped[PreferenceChannel]
    message_type: Mapped[MessageType]
    allowed: Mapped[bool]


class CommunicationSettings(PatientRecord, Base):
    """How a patient wants to be reached overall; one row per patient.

    FHIR: ``Patient.communication`` (language, preferred) plus extensions for the
    preferred channel, quiet hours and do-not-contact.
    """

    __tablename__ = "communication_settings"
    __extra_table_args__ = (UniqueConstraint("patient_id"),)

    preferred_channel: Mapped[PreferenceChannel | None] = mapped_column(default=None)
    language: Mapped[str] = mapped_column(String(16), default="en")  # BCP 47
    # Local wall-clock times in ``timezone``; a window may wrap midnight (21:00-08:00).
    quiet_hours_start: Mapped[time | None] = mapped_column(default=None)
    quiet_hours_end: Mapped[time | None] = mapped_column(default=None)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")  # IANA
    do_not_contact: Mapped[bool] = mapped_column(default=False)


class PreferenceChangeActor(enum.StrEnum):
    PATIENT_PORTAL = "patient_portal"
    STAFF = "staff"
    STOP_REPLY = "stop_reply"  # the patient answered STOP / UNSUBSCRIBE
    IMPORT = "import"
    SYSTEM = "system"  # e.g. bounced e-mail disabled the channel


class PreferenceChange(PatientRecord, Base):
    """One change of a contact preference or setting; insert-only proof of opt-in/out.

    ``setting`` names what changed: "contact_preference" (then channel and message_type
    say which cell), or a :class:`CommunicationSettings` field ("preferred_channel",
    "quiet_hours_start", "do_not_contact" ...). Updating a row through the ORM raises.
    FHIR: a ``Provenance`` of the Consent/Patient change.
    """

    __tablename__ = "preference_change"
    setting: Mapped[str] = mapped_column(String(64))
    channel: Mapped[PreferenceChannel | None] = mapped_column(default=None)
    message_type: Mapped[MessageType | None] = mapped_column(default=None)
    old_value: Mapped[str | None] = mapped_column(String(255), default=None)
    new_value: Mapped[str | None] = mapped_column(String(255), default=None)
    changed_by: Mapped[PreferenceChangeActor]
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    method_detail: Mapped[str | None] = mapped_column(String(200), default=None)
    # The inbound message that carried the change (a STOP reply), when there was one.
    communication_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("communication.id", ondelete="SET NULL"), default=None
    )
    changed_at: Mapped[datetime]


class InsertOnlyError(RuntimeError):
    """An insert-only history row was about to be updated."""


@event.listens_for(PreferenceChange, "before_update")
def _preference_change_is_insert_only(
    _mapper: Mapper[Any], _connection: Any, target: PreferenceChange
) -> None:
    raise InsertOnlyError(
        f"preference_change {target.id} is history: add a new PreferenceChange instead"
    )


__all__ = [
    "Campaign",
    "Communication",
    "CommunicationChannel",
    "CommunicationSettings",
    "CommunicationStatus",
    "Consent",
    "ConsentKind",
    "ConsentSource",
    "ConsentStatus",
    "ContactPreference",
    "Direction",
    "InsertOnlyError",
    "MessageType",
    "ModerationStatus",
    "PreferenceChange",
    "PreferenceChangeActor",
    "PreferenceChannel",
    "ProvisionType",
    "RecipientType",
    "ReminderKind",
    "Review",
    "ReviewKind",
    "ReviewPlatform",
    "SurveyInvitation",
    "SurveyKind",
    "SurveyResponse",
    "SurveyVia",
]
