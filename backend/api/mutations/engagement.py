"""logCommunication and recordConsentByPhone."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.mutations.common import mutation, require_id
from backend.api.types.common import from_view
from backend.api.types.engagement import Communication, Consent
from backend.engagement.changes import (
    CommunicationInput,
    PhoneConsentInput,
    log_communication,
    record_consent_by_phone,
)


@strawberry.input(description="A call or message that already happened.")
class LogCommunicationInput:
    patient_id: strawberry.ID
    channel: str = strawberry.field(description="phone, sms, email, in_person ...")
    direction: str = strawberry.field(description="inbound (from the patient) or outbound")
    occurred_at: datetime = strawberry.field(description="When it happened (with timezone).")
    subject: str | None = None
    body: str | None = None
    message_type: str | None = None
    duration_seconds: int | None = None


@strawberry.input(description="A consent the patient or their representative gave by phone.")
class RecordConsentByPhoneInput:
    patient_id: strawberry.ID
    kind: str = strawberry.field(description="treatment or telehealth (others need a signature)")
    purpose: str = strawberry.field(description="What the consent covers.")
    relationship: str = strawberry.field(
        default="self", description="Who spoke: self, or the representative's relationship."
    )
    given_by: str | None = strawberry.field(
        default=None, description="The representative's name (when not self)."
    )
    provision: str = strawberry.field(default="permit", description="permit or deny")
    data_categories: list[str] = strawberry.field(default_factory=list)
    occurred_at: datetime | None = None
    period_end: datetime | None = None
    notes: str | None = None


@strawberry.type
class EngagementMutations:
    @mutation("Log a call or message with a patient; the caller is the staff member on it.")
    async def log_communication(
        self, info: Info[ApiContext, None], input: LogCommunicationInput
    ) -> Communication:
        ctx = info.context
        principal = ctx.caller
        data = CommunicationInput(
            patient_id=require_id(input.patient_id, "patientId"),
            channel=input.channel,
            direction=input.direction,
            occurred_at=input.occurred_at,
            subject=input.subject,
            body=input.body,
            message_type=input.message_type,
            duration_seconds=input.duration_seconds,
        )
        view = await ctx.change(
            principal,
            lambda c: log_communication(
                **c,
                data=data,
            ),
        )
        return from_view(Communication, view)

    @mutation(
        "Record a consent given by phone: source phone, the caller as the staff member "
        "who took the call."
    )
    async def record_consent_by_phone(
        self, info: Info[ApiContext, None], input: RecordConsentByPhoneInput
    ) -> Consent:
        ctx = info.context
        principal = ctx.caller
        data = PhoneConsentInput(
            patient_id=require_id(input.patient_id, "patientId"),
            kind=input.kind,
            purpose=input.purpose,
            relationship=input.relationship,
            given_by=input.given_by,
            provision=input.provision,
            data_categories=tuple(input.data_categories),
            occurred_at=input.occurred_at,
            period_end=input.period_end,
            notes=input.notes,
        )
        view = await ctx.change(
            principal,
            lambda c: record_consent_by_phone(
                **c,
                data=data,
            ),
        )
        return from_view(Consent, view)
