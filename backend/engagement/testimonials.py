"""Alumni feedback and testimonials, with a separate, revocable consent to publish.

Feedback (a rating and a comment) is internal and never published. A testimonial is
written to be published, but only with its own consent record (kind
``testimonial_publication``, source portal): ticking the box writes that consent in the
same transaction, and leaving it unticked keeps the testimonial unpublishable. Revoking
keeps every row: the consent becomes ``revoked`` with its time, the review records the
revocation and moves to ``hidden`` (out of publication), so the history stays readable.
Only alumni with an active membership write here; the patient is always the principal's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction
from backend.access.own_writes import require_own_write
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import add_audited, audit_change
from backend.common.errors import Forbidden, NotFound, Problems
from backend.common.inputs import text
from backend.common.mixins import utcnow
from backend.engagement.consent import Consent, ConsentKind, ConsentSource, ConsentStatus
from backend.engagement.feedback import ModerationStatus, Review, ReviewKind, ReviewPlatform
from backend.journey.participation import active_memberships

MAX_BODY = 4000
MAX_DISPLAY_NAME = 100
PURPOSE = "testimonial publication"
REVIEW_FIELDS = ["kind", "platform", "rating", "body", "effective_at"]
CONSENT_FIELDS = ["kind", "status", "purpose", "granted_at", "source", "period_start"]
PUBLISH_FIELDS = ["display_name", "consent_to_publish", "consent_id", "publish_consent_at"]
REVOKE_REVIEW_FIELDS = ["consent_to_publish", "publish_consent_revoked_at", "moderation_status"]
REVOKE_CONSENT_FIELDS = ["status", "revoked_at", "period_end", "revocation_reason"]


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    rating: int
    body: str
    display_name: str | None = None


def parse_feedback(*, rating: str, body: str, display_name: str = "") -> FeedbackInput:
    """The form's fields, or InvalidInput naming every bad one."""
    problems = Problems()
    raw = rating.strip()
    value = None
    if not raw:
        problems.add("rating", "Please choose a rating.")
    elif not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 5:
        problems.add("rating", "Choose a whole number from 1 to 5.")
    else:
        value = int(raw)
    cleaned = text(problems, "body", body, max_chars=MAX_BODY, required=True)
    name = text(problems, "display_name", display_name, max_chars=MAX_DISPLAY_NAME)
    problems.raise_if_any()
    assert value is not None
    assert cleaned is not None
    return FeedbackInput(rating=value, body=cleaned, display_name=name)


def _alumnus(
    session: Session, principal: Principal, policy: CompiledPolicy, fields: dict[str, list[str]]
) -> uuid.UUID:
    patient_id = require_own_write(policy=policy, principal=principal, changes=fields)
    if not active_memberships(session, patient_id):
        raise Forbidden("only alumni with an active membership give alumni feedback")
    return patient_id


def submit_feedback(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: FeedbackInput,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Review:
    """Internal feedback from an alumnus: never published."""
    now = now or utcnow()
    changes = {"Review": REVIEW_FIELDS}
    patient_id = _alumnus(session, principal, policy, changes)
    row = Review(
        patient_id=patient_id,
        kind=ReviewKind.INTERNAL_FEEDBACK,
        platform=ReviewPlatform.INTERNAL,
        rating=data.rating,
        body=data.body,
        effective_at=now,
    )
    add_audited(
        session=session,
        principal=principal,
        policy=policy,
        row=row,
        changes=changes,
        request_id=request_id,
        now=now,
    )
    return row


def submit_testimonial(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: FeedbackInput,
    consent_to_publish: bool,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Review:
    """A testimonial for our website, pending moderation; with ``consent_to_publish``
    its own publication consent is recorded alongside."""
    now = now or utcnow()
    changes: dict[str, list[str]] = {"Review": REVIEW_FIELDS + PUBLISH_FIELDS}
    if consent_to_publish:
        changes["Consent"] = CONSENT_FIELDS
    patient_id = _alumnus(session, principal, policy, changes)
    consent = None
    if consent_to_publish:
        consent = Consent(
            patient_id=patient_id,
            kind=ConsentKind.TESTIMONIAL_PUBLICATION,
            status=ConsentStatus.ACTIVE,
            purpose=PURPOSE,
            granted_at=now,
            period_start=now,
            source=ConsentSource.PORTAL,
            effective_at=now,
        )
        session.add(consent)
        session.flush()
    row = Review(
        patient_id=patient_id,
        kind=ReviewKind.TESTIMONIAL,
        platform=ReviewPlatform.WEBSITE,
        rating=data.rating,
        body=data.body,
        display_name=data.display_name,
        consent_to_publish=consent is not None,
        consent_id=consent.id if consent else None,
        publish_consent_at=now if consent else None,
        moderation_status=ModerationStatus.PENDING,
        effective_at=now,
    )
    add_audited(
        session=session,
        principal=principal,
        policy=policy,
        row=row,
        changes=changes,
        request_id=request_id,
        now=now,
    )
    return row


def revoke_testimonial_consent(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    review_id: uuid.UUID,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Review:
    """Withdraw a testimonial from publication. Another patient's review is not found;
    revoking twice changes nothing the second time."""
    now = now or utcnow()
    changes = {"Review": REVOKE_REVIEW_FIELDS, "Consent": REVOKE_CONSENT_FIELDS}
    patient_id = require_own_write(policy=policy, principal=principal, changes=changes)
    row = session.scalar(
        select(Review)
        .where(
            Review.id == review_id,
            Review.patient_id == patient_id,
            Review.kind == ReviewKind.TESTIMONIAL,
            Review.deleted_at.is_(None),
        )
        .with_for_update()
    )
    if row is None:
        raise NotFound()
    if not row.consent_to_publish:
        return row
    if row.consent_id is not None:
        consent = session.get(Consent, row.consent_id)
        if consent is not None and consent.status is ConsentStatus.ACTIVE:
            consent.status = ConsentStatus.REVOKED
            consent.revoked_at = now
            consent.period_end = now
            consent.revocation_reason = "revoked by the patient in the portal"
    row.consent_to_publish = False
    row.publish_consent_revoked_at = now
    row.moderation_status = ModerationStatus.HIDDEN
    session.flush()
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.UPDATE,
        patient_id=patient_id,
        changes=changes,
        request_id=request_id,
        now=now,
    )
    return row
