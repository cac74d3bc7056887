"""Engagement types: thin copies of :mod:`backend.engagement.records` views."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.api.types.common import WithheldField


@strawberry.type(
    description="A message or call between the clinic and the patient (FHIR Communication)."
)
class Communication:
    id: strawberry.ID
    channel: str | None
    direction: str | None
    status: str | None
    message_type: str | None
    reminder_kind: str | None
    staff_id: strawberry.ID | None
    patient_address: str | None
    clinic_address: str | None
    subject: str | None
    body: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    replied_at: datetime | None
    failed_reason: str | None
    duration_seconds: int | None
    thread_id: strawberry.ID | None
    in_reply_to_id: strawberry.ID | None
    task_id: strawberry.ID | None
    campaign_id: strawberry.ID | None
    about_type: str | None
    about_id: strawberry.ID | None
    visible_to_patient: bool | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="A consent given, refused or revoked (FHIR Consent).")
class Consent:
    id: strawberry.ID
    kind: str | None
    status: str | None
    provision_type: str | None
    recipient_type: str | None
    purpose: str | None
    purpose_of_use_system: str | None
    purpose_of_use_code: str | None
    purpose_of_use_display: str | None
    policy_rule: str | None
    period_start: datetime | None
    period_end: datetime | None
    expiration_event: str | None
    granted_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None
    source: str | None
    signed_by_name: str | None
    signer_relationship: str | None
    witness_id: strawberry.ID | None
    document_ref: str | None
    notes: str | None
    effective_at: datetime | None
    version: int | None
    withheld: list[WithheldField]
