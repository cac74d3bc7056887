"""Satisfaction surveys: one-time links for a visit or a discharge, and their answers.

A link carries 256 random bits; only their SHA-256 is stored (the invite hash, see
:mod:`backend.accounts.invites`), so the database cannot reproduce a link. An invitation
takes one response: the first answer sets ``used_at`` under a row lock and the unique
``survey_response.invitation_id`` stops a second one even when two requests race.

Answers reach us two ways: anonymously through the link (the token is the credential:
the respondent is whoever holds the link the clinic sent) or signed in to the portal,
where the patient may answer only their own open invitations. Unknown, expired and used
links all answer the same, so a guessed token learns nothing. Tokens never reach logs or
audit rows: audit events name the invitation's record type, never the link.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.own_writes import require_own_write
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import audit_change, require_patient, require_write
from backend.accounts.invites import hash_token
from backend.common.errors import InvalidInput, NotFound, Problems
from backend.common.inputs import choice
from backend.common.mixins import utcnow
from backend.engagement.enums import CommunicationChannel, MessageType, PreferenceChannel
from backend.engagement.feedback import (
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    SurveyVia,
)
from backend.engagement.models import CommunicationSettings, ContactPreference
from backend.engagement.preferences import default_allowed
from backend.journey.models import Discharge
from backend.patients.models import ContactPoint, ContactSystem
from backend.scheduling.models import Encounter

DEFAULT_VALID_DAYS = 14
MAX_VALID_DAYS = 90
MAX_COMMENT = 2000
MAX_TOKEN = 128
LINK_ACTOR = "survey-link"  # the audit trail's name for an anonymous link holder
RESPONSE_FIELDS = ["invitation_id", "nps", "csat", "comments", "submitted_at", "via"]


@dataclass(frozen=True, slots=True)
class SurveyLink:
    """A created invitation. ``token`` exists only here and in the link sent out."""

    invitation_id: uuid.UUID
    patient_id: uuid.UUID
    token: str
    expires_at: datetime

    @property
    def path(self) -> str:
        return f"/portal/survey/{self.token}"


@dataclass(frozen=True, slots=True)
class SurveyAnswers:
    nps: int
    csat: int
    comments: str | None


def _score(problems: Problems, field: str, raw: str, low: int, high: int) -> int | None:
    value = raw.strip()
    if not value:
        problems.add(field, "Please choose an answer.")
        return None
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        problems.add(field, f"Choose a whole number from {low} to {high}.")
        return None
    return int(value)


def parse_answers(*, nps: str, csat: str, comments: str) -> SurveyAnswers:
    """The form's answers, or :class:`InvalidInput` naming every bad field."""
    problems = Problems()
    nps_value = _score(problems, "nps", nps, 0, 10)
    csat_value = _score(problems, "csat", csat, 1, 5)
    text = comments.strip()
    if len(text) > MAX_COMMENT:
        problems.add("comments", f"Please keep your comment to {MAX_COMMENT} characters.")
    problems.raise_if_any()
    assert nps_value is not None
    assert csat_value is not None
    return SurveyAnswers(nps=nps_value, csat=csat_value, comments=text or None)


def issue_survey_link(
    session: Session,
    *,
    patient_id: uuid.UUID,
    kind: SurveyKind,
    encounter_id: uuid.UUID | None = None,
    discharge_id: uuid.UUID | None = None,
    channel: CommunicationChannel = CommunicationChannel.PORTAL_MESSAGE,
    valid_for: timedelta = timedelta(days=DEFAULT_VALID_DAYS),
    author_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> SurveyLink:
    """Store a new invitation and return its link; no access check (the caller decides:
    :func:`create_survey_invitation` for staff, the demo and automations for themselves)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = SurveyInvitation(
        patient_id=patient_id,
        survey_kind=kind,
        encounter_id=encounter_id,
        discharge_id=discharge_id,
        token_hash=hash_token(token),
        channel=channel,
        expires_at=now + valid_for,
        effective_at=now,
        author_id=author_id,
    )
    session.add(row)
    session.flush()
    return SurveyLink(
        invitation_id=row.id, patient_id=patient_id, token=token, expires_at=row.expires_at
    )


@dataclass(frozen=True, slots=True)
class SurveyRequest:
    """What staff (or an automation acting as staff) ask for."""

    patient_id: uuid.UUID
    kind: str = SurveyKind.VISIT.value
    encounter_id: uuid.UUID | None = None
    discharge_id: uuid.UUID | None = None
    valid_days: int = DEFAULT_VALID_DAYS


def create_survey_invitation(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    request: SurveyRequest,
    channel: CommunicationChannel = CommunicationChannel.PORTAL_MESSAGE,
    request_id: str | None = None,
    now: datetime | None = None,
) -> SurveyLink:
    """A one-time survey link bound to the patient and their visit or discharge."""
    now = now or utcnow()
    problems = Problems()
    kind = choice(problems, "kind", request.kind, SurveyKind)
    if kind is SurveyKind.VISIT and request.encounter_id is None:
        problems.add("encounterId", "a visit survey names the encounter")
    if kind is SurveyKind.DISCHARGE and request.discharge_id is None:
        problems.add("dischargeId", "a discharge survey names the discharge")
    if not 1 <= request.valid_days <= MAX_VALID_DAYS:
        problems.add("validDays", f"must be between 1 and {MAX_VALID_DAYS}")
    fields = ["patient_id", "survey_kind", "token_hash", "channel", "expires_at"]
    fields += [
        name
        for name, value in (
            ("encounter_id", request.encounter_id),
            ("discharge_id", request.discharge_id),
        )
        if value is not None
    ]
    changes = {"SurveyInvitation": [f for f in fields if f != "token_hash"]}
    require_write(policy=policy, principal=principal, changes=changes)
    problems.raise_if_any()
    assert kind is not None
    require_patient(session=session, principal=principal, patient_id=request.patient_id, now=now)
    # The visit or discharge must be this patient's: another patient's id is not found.
    for model, record_id in ((Encounter, request.encounter_id), (Discharge, request.discharge_id)):
        if record_id is None:
            continue
        owner = session.scalar(
            select(model.patient_id).where(model.id == record_id, model.deleted_at.is_(None))
        )
        if owner != request.patient_id:
            raise NotFound()
    link = issue_survey_link(
        session,
        patient_id=request.patient_id,
        kind=kind,
        encounter_id=request.encounter_id,
        discharge_id=request.discharge_id,
        channel=channel,
        valid_for=timedelta(days=request.valid_days),
        author_id=principal.subject_id,
        now=now,
    )
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.CREATE,
        patient_id=request.patient_id,
        changes=changes,
        request_id=request_id,
        now=now,
    )
    return link


def survey_email(session: Session, patient_id: uuid.UUID) -> str | None:
    """Where to e-mail a survey link, or None when the patient does not want survey
    e-mail (their channel x message-type choice, or do-not-contact) or has no address."""
    settings = session.scalar(
        select(CommunicationSettings).where(
            CommunicationSettings.patient_id == patient_id,
            CommunicationSettings.deleted_at.is_(None),
        )
    )
    if settings is not None and settings.do_not_contact:
        return None
    choice_row = session.scalar(
        select(ContactPreference).where(
            ContactPreference.patient_id == patient_id,
            ContactPreference.channel == PreferenceChannel.EMAIL,
            ContactPreference.message_type == MessageType.SURVEYS,
            ContactPreference.deleted_at.is_(None),
        )
    )
    allowed = choice_row.allowed if choice_row else default_allowed(MessageType.SURVEYS)
    if not allowed:
        return None
    address: str | None = session.scalar(
        select(ContactPoint.value)
        .where(
            ContactPoint.patient_id == patient_id,
            ContactPoint.system == ContactSystem.EMAIL,
            ContactPoint.deleted_at.is_(None),
        )
        .order_by(ContactPoint.rank)
        .limit(1)
    )
    return address


def mark_sent(session: Session, invitation_id: uuid.UUID, now: datetime) -> None:
    row = session.get(SurveyInvitation, invitation_id)
    if row is not None:
        row.sent_at = now
        row.channel = CommunicationChannel.EMAIL


def _live(row: SurveyInvitation | None, now: datetime) -> SurveyInvitation | None:
    if row is None or row.deleted_at is not None or row.used_at is not None:
        return None
    if row.expires_at <= now:
        return None
    return row


def _by_token(session: Session, token: str, *, lock: bool) -> SurveyInvitation | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    query = select(SurveyInvitation).where(SurveyInvitation.token_hash == hash_token(token))
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def open_survey(*, session: Session, token: str, now: datetime | None = None) -> bool:
    """Whether this link can still be answered (unknown, expired and used: False)."""
    return _live(_by_token(session, token, lock=False), now or utcnow()) is not None


def _record_answer(
    session: Session,
    row: SurveyInvitation,
    answers: SurveyAnswers,
    via: SurveyVia,
    now: datetime,
) -> bool:
    row.used_at = now
    session.add(
        SurveyResponse(
            patient_id=row.patient_id,
            invitation_id=row.id,
            nps=answers.nps,
            csat=answers.csat,
            comments=answers.comments,
            submitted_at=now,
            effective_at=now,
            via=via,
        )
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        return False  # a concurrent answer won the race: this one is a repeat
    return True


def answer_by_link(
    *,
    session: Session,
    token: str,
    answers: SurveyAnswers,
    address: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Keep the answers given through a one-time link; False when the link cannot be
    answered (unknown, expired or already used), with nothing written."""
    now = now or utcnow()
    row = _live(_by_token(session, token, lock=True), now)
    if row is None:
        return False
    if not _record_answer(session, row, answers, SurveyVia.LINK, now):
        return False
    audit.record(
        session=session,
        principal=None,
        action=AuditAction.CREATE,
        patient_id=row.patient_id,
        record_types=["SurveyResponse"],
        fields=[f"SurveyResponse.{f}" for f in RESPONSE_FIELDS],
        actor_username=LINK_ACTOR,
        address=address,
        now=now,
    )
    return True


def answer_in_portal(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    invitation_id: uuid.UUID,
    answers: SurveyAnswers,
    request_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """A signed-in patient answers one of their own invitations. Another patient's (or
    no) invitation is :class:`NotFound`; a used or expired one returns False."""
    now = now or utcnow()
    patient_id = require_own_write(
        policy=policy, principal=principal, changes={"SurveyResponse": RESPONSE_FIELDS}
    )
    row = session.scalar(
        select(SurveyInvitation)
        .where(
            SurveyInvitation.id == invitation_id,
            SurveyInvitation.patient_id == patient_id,
            SurveyInvitation.deleted_at.is_(None),
        )
        .with_for_update()
    )
    if row is None:
        raise NotFound()
    if _live(row, now) is None:
        return False
    if not _record_answer(session, row, answers, SurveyVia.PORTAL, now):
        return False
    audit_change(
        session=session,
        principal=principal,
        policy=policy,
        action=AuditAction.CREATE,
        patient_id=row.patient_id,
        changes={"SurveyResponse": RESPONSE_FIELDS},
        request_id=request_id,
        now=now,
    )
    return True


__all__ = [
    "DEFAULT_VALID_DAYS",
    "InvalidInput",
    "SurveyAnswers",
    "SurveyLink",
    "SurveyRequest",
    "answer_by_link",
    "answer_in_portal",
    "create_survey_invitation",
    "issue_survey_link",
    "open_survey",
    "parse_answers",
    "survey_email",
]
