"""Engagement records handed to transports: frozen views, already masked.

Field names are the tables' columns; JSON lists (attachments, consent recipients and
data categories) stay out of the views for now. A survey invitation's token hash is a
secret (group ``secrets``, granted to nobody): it is not a field of any view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class CommunicationView:
    id: uuid.UUID
    channel: str | None = None
    direction: str | None = None
    status: str | None = None
    message_type: str | None = None
    reminder_kind: str | None = None
    staff_id: uuid.UUID | None = None
    patient_address: str | None = None
    clinic_address: str | None = None
    subject: str | None = None
    body: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    replied_at: datetime | None = None
    failed_reason: str | None = None
    duration_seconds: int | None = None
    thread_id: uuid.UUID | None = None
    in_reply_to_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    about_type: str | None = None
    about_id: uuid.UUID | None = None
    visible_to_patient: bool | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentView:
    id: uuid.UUID
    kind: str | None = None
    status: str | None = None
    provision_type: str | None = None
    recipient_type: str | None = None
    purpose: str | None = None
    purpose_of_use_system: str | None = None
    purpose_of_use_code: str | None = None
    purpose_of_use_display: str | None = None
    policy_rule: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    expiration_event: str | None = None
    granted_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    source: str | None = None
    signed_by_name: str | None = None
    signer_relationship: str | None = None
    witness_id: uuid.UUID | None = None
    document_ref: str | None = None
    notes: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyInvitationView:
    """An invitation to a survey; ``token_hash`` is deliberately absent."""

    id: uuid.UUID
    survey_kind: str | None = None
    encounter_id: uuid.UUID | None = None
    discharge_id: uuid.UUID | None = None
    channel: str | None = None
    communication_id: uuid.UUID | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None
    reminders_sent: int | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactPreferenceView:
    id: uuid.UUID
    channel: str | None = None
    message_type: str | None = None
    allowed: bool | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyResponseView:
    id: uuid.UUID
    invitation_id: uuid.UUID | None = None
    nps: int | None = None
    csat: int | None = None
    comments: str | None = None
    answers: Any = None
    submitted_at: datetime | None = None
    via: str | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class CommunicationSettingsView:
    id: uuid.UUID
    preferred_channel: str | None = None
    language: str | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    timezone: str | None = None
    do_not_contact: bool | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewView:
    id: uuid.UUID
    kind: str | None = None
    platform: str | None = None
    rating: int | None = None
    title: str | None = None
    body: str | None = None
    external_url: str | None = None
    display_name: str | None = None
    consent_to_publish: bool | None = None
    consent_id: uuid.UUID | None = None
    publish_consent_at: datetime | None = None
    publish_consent_revoked_at: datetime | None = None
    published_at: datetime | None = None
    moderation_status: str | None = None
    moderated_by_id: uuid.UUID | None = None
    moderated_at: datetime | None = None
    reply_body: str | None = None
    replied_at: datetime | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PreferenceChangeView:
    id: uuid.UUID
    setting: str | None = None
    channel: str | None = None
    message_type: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    changed_by: str | None = None
    method_detail: str | None = None
    changed_at: datetime | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PreferenceCell:
    """One cell of the channel x message-type matrix: stored, or the clinic default."""

    channel: str
    message_type: str
    allowed: bool
    is_default: bool


@dataclass(frozen=True, slots=True)
class PreferencesView:
    """How a patient wants to be reached: the full matrix, settings, and the history."""

    patient_id: uuid.UUID
    cells: tuple[PreferenceCell, ...]
    settings: CommunicationSettingsView | None
    history: tuple[PreferenceChangeView, ...]
    withheld: tuple[Withheld, ...] = ()
