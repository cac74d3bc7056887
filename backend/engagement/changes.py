"""Staff changes to engagement records: logging a call or message, consent taken by phone.

Each use case follows :mod:`backend.access.writes` (write permission on the fields it
sets, patient in scope, audited, returned as the caller may read it) and writes in the
caller's transaction: the transport commits it, or nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import (
    insert_record,
    require_patient,
    require_write,
)
from backend.common.errors import Problems
from backend.common.inputs import choice, moment, text, whole_number
from backend.common.mixins import utcnow
from backend.engagement.consent import (
    Consent,
    ConsentKind,
    ConsentSource,
    ConsentStatus,
    ProvisionType,
)
from backend.engagement.enums import CommunicationChannel, Direction, MessageType
from backend.engagement.models import Communication, CommunicationStatus
from backend.engagement.records import CommunicationView, ConsentView

MAX_SUBJECT = 255
MAX_BODY = 20_000
MAX_CALL_SECONDS = 24 * 3600
MAX_NAME = 200
MAX_PURPOSE = 200
MAX_NOTES = 4000
MAX_CATEGORIES = 20

PHONE_CONSENT_KINDS = frozenset({ConsentKind.TREATMENT, ConsentKind.TELEHEALTH})
"""Consents a phone call can record. Part 2 disclosures (42 CFR 2.31) and HIPAA
authorizations (45 CFR 164.508: release of information, marketing uses such as photos
and testimonials) need the patient's signature; research consent needs its protocol's
documentation. Those are refused here rather than recorded in a form that is not valid."""


@dataclass(frozen=True, slots=True)
class CommunicationInput:
    """A call or message that already happened, as staff log it."""

    patient_id: uuid.UUID
    channel: str
    direction: str
    occurred_at: datetime
    subject: str | None = None
    body: str | None = None
    message_type: str | None = None
    duration_seconds: int | None = None


def log_communication(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: CommunicationInput,
    request_id: str | None = None,
    now: datetime | None = None,
) -> CommunicationView:
    """Record a call or message between the clinic and the patient, by the caller."""
    now = now or utcnow()
    problems = Problems()
    channel = choice(problems, "channel", data.channel, CommunicationChannel)
    direction = choice(problems, "direction", data.direction, Direction)
    message_type = choice(problems, "message_type", data.message_type, MessageType)
    occurred = moment(problems, "occurred_at", data.occurred_at, now=now, past_only=True)
    subject = text(problems, "subject", data.subject, max_chars=MAX_SUBJECT)
    body = text(problems, "body", data.body, max_chars=MAX_BODY)
    duration = whole_number(
        problems, "duration_seconds", data.duration_seconds, low=0, high=MAX_CALL_SECONDS
    )
    if subject is None and body is None and not problems:
        problems.add("body", "a subject or a body is required")
    values = {
        "patient_id": data.patient_id,
        "channel": channel,
        "direction": direction,
        "status": CommunicationStatus.RECEIVED
        if direction is Direction.INBOUND
        else CommunicationStatus.SENT,
        "message_type": message_type,
        "staff_id": principal.subject_id,
        "subject": subject,
        "body": body,
        "sent_at": occurred,
        "effective_at": occurred,
        "duration_seconds": duration,
        "author_id": principal.subject_id,
    }
    changes = {"Communication": [k for k, v in values.items() if v is not None]}
    require_write(policy=policy, principal=principal, changes=changes)
    problems.raise_if_any()
    require_patient(session=session, principal=principal, patient_id=data.patient_id, now=now)
    return insert_record(
        session=session,
        principal=principal,
        policy=policy,
        row=Communication(**values),
        changes=changes,
        view=CommunicationView,
        request_id=request_id,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class PhoneConsentInput:
    """A consent the patient (or their representative) gave on a call with the caller.

    ``relationship`` is "self" when the patient spoke; otherwise ``given_by`` names the
    representative (guardian, legal representative ...). ``purpose`` says what it covers.
    """

    patient_id: uuid.UUID
    kind: str
    purpose: str
    relationship: str = "self"
    given_by: str | None = None
    provision: str = ProvisionType.PERMIT.value
    data_categories: tuple[str, ...] = field(default_factory=tuple)
    occurred_at: datetime | None = None
    period_end: datetime | None = None
    notes: str | None = None


def record_consent_by_phone(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: PhoneConsentInput,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ConsentView:
    """Keep a consent given on the phone: source ``phone``, the caller as the staff
    member who took the call (witness and author), who gave it and what it covers."""
    now = now or utcnow()
    problems = Problems()
    kind = choice(problems, "kind", data.kind, ConsentKind)
    if kind is not None and kind not in PHONE_CONSENT_KINDS:
        allowed = ", ".join(sorted(k.value for k in PHONE_CONSENT_KINDS))
        problems.add("kind", f"needs a signed form; by phone only: {allowed}")
    provision = choice(problems, "provision", data.provision, ProvisionType)
    purpose = text(problems, "purpose", data.purpose, max_chars=MAX_PURPOSE, required=True)
    relationship = text(problems, "relationship", data.relationship, max_chars=64) or "self"
    given_by = text(problems, "given_by", data.given_by, max_chars=MAX_NAME)
    if relationship != "self" and given_by is None:
        problems.add("given_by", "name the representative who gave consent")
    occurred = moment(problems, "occurred_at", data.occurred_at, now=now, past_only=True) or now
    period_end = moment(problems, "period_end", data.period_end, now=now)
    if period_end is not None and period_end <= occurred:
        problems.add("period_end", "must be after the consent was given")
    categories = [c.strip() for c in data.data_categories if c.strip()]
    if len(categories) > MAX_CATEGORIES or any(len(c) > 64 for c in categories):
        problems.add("data_categories", f"at most {MAX_CATEGORIES} names of 64 characters")
    notes = text(problems, "notes", data.notes, max_chars=MAX_NOTES)
    values = {
        "patient_id": data.patient_id,
        "kind": kind,
        "status": ConsentStatus.ACTIVE,
        "provision_type": provision,
        "purpose": purpose,
        "data_categories": categories,
        "period_start": occurred,
        "period_end": period_end,
        "granted_at": occurred,
        "effective_at": occurred,
        "source": ConsentSource.PHONE,
        "signed_by_name": given_by if relationship != "self" else None,
        "signer_relationship": relationship,
        "witness_id": principal.subject_id,
        "author_id": principal.subject_id,
        "notes": notes,
    }
    changes = {"Consent": [k for k, v in values.items() if v is not None]}
    require_write(policy=policy, principal=principal, changes=changes)
    problems.raise_if_any()
    require_patient(session=session, principal=principal, patient_id=data.patient_id, now=now)
    return insert_record(
        session=session,
        principal=principal,
        policy=policy,
        row=Consent(**values),
        changes=changes,
        view=ConsentView,
        request_id=request_id,
        now=now,
    )
