"""Feedback types (surveys and reviews): thin copies of :mod:`backend.engagement.records`
views. A survey invitation never carries its token hash."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from backend.api.types.common import WithheldField


@strawberry.type(description="An invitation to a satisfaction survey (its token is never exposed).")
class SurveyInvitation:
    id: strawberry.ID
    survey_kind: str | None
    encounter_id: strawberry.ID | None
    discharge_id: strawberry.ID | None
    channel: str | None
    communication_id: strawberry.ID | None
    sent_at: datetime | None
    expires_at: datetime | None
    used_at: datetime | None
    reminders_sent: int | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A submitted satisfaction survey.")
class SurveyResponse:
    id: strawberry.ID
    invitation_id: strawberry.ID | None
    nps: int | None
    csat: int | None
    comments: str | None
    answers: JSON | None
    submitted_at: datetime | None
    via: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(
    description="A testimonial, an online review or internal feedback from the patient."
)
class Review:
    id: strawberry.ID
    kind: str | None
    platform: str | None
    rating: int | None
    title: str | None
    body: str | None
    external_url: str | None
    display_name: str | None
    consent_to_publish: bool | None
    consent_id: strawberry.ID | None
    publish_consent_at: datetime | None
    publish_consent_revoked_at: datetime | None
    published_at: datetime | None
    moderation_status: str | None
    moderated_by_id: strawberry.ID | None
    moderated_at: datetime | None
    reply_body: str | None
    replied_at: datetime | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
