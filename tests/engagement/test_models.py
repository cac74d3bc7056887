"""Engagement models on both databases: messages, preferences, consents, surveys, reviews."""

from __future__ import annotations

import enum
import hashlib
import random
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.common.types import Code, Sensitivity
from backend.db import Base
from backend.demo.sink import RowSink
from backend.engagement.models import (
    Campaign,
    Communication,
    CommunicationChannel,
    CommunicationSettings,
    CommunicationStatus,
    Consent,
    ConsentKind,
    ConsentSource,
    ConsentStatus,
    ContactPreference,
    Direction,
    InsertOnlyError,
    MessageType,
    ModerationStatus,
    PreferenceChange,
    PreferenceChangeActor,
    PreferenceChannel,
    RecipientType,
    ReminderKind,
    Review,
    ReviewKind,
    ReviewPlatform,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    SurveyVia,
)
from backend.patients.models import Patient
from tests.demo_world import staff_user
from tests.tables import table_of

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _patient(session: Session) -> Patient:
    patient = Patient(given_name="Sam", family_name="Okoye")
    session.add(patient)
    session.flush()
    return patient


def _invitation(patient: Patient, link: str = "t1", **values: object) -> SurveyInvitation:
    defaults: dict[str, object] = {
        "patient_id": patient.id,
        "survey_kind": SurveyKind.DISCHARGE,
        "token_hash": hashlib.sha256(link.encode()).hexdigest(),
        "channel": CommunicationChannel.SMS,
        "sent_at": NOW - timedelta(days=2),
        "expires_at": NOW + timedelta(days=12),
    }
    defaults.update(values)
    return SurveyInvitation(**defaults)


def test_portal_thread_with_campaign_and_reply(session: Session) -> None:
    sink = RowSink(random.Random(1), recorded_at=NOW)
    coordinator = staff_user(sink, "Olivia Chen")
    sink.flush(session.connection())
    patient = _patient(session)
    campaign = Campaign(
        name="Alumni digest",
        channel=CommunicationChannel.EMAIL,
        message_type=MessageType.ALUMNI_EVENTS,
        started_at=NOW - timedelta(days=30),
    )
    session.add(campaign)
    session.flush()
    asked = NOW - timedelta(hours=5)
    root = Communication(
        patient_id=patient.id,
        channel=CommunicationChannel.PORTAL_MESSAGE,
        direction=Direction.INBOUND,
        status=CommunicationStatus.REPLIED,
        subject="Moving my Thursday session?",
        body="Could I come in the afternoon?",
        sent_at=asked,
        replied_at=asked + timedelta(hours=1),
        effective_at=asked,
    )
    session.add(root)
    session.flush()
    reply = Communication(
        patient_id=patient.id,
        channel=CommunicationChannel.PORTAL_MESSAGE,
        direction=Direction.OUTBOUND,
        status=CommunicationStatus.READ,
        staff_id=coordinator,
        subject="Re: Moving my Thursday session?",
        body="Moved you to 3 PM.",
        sent_at=asked + timedelta(hours=1),
        read_at=asked + timedelta(hours=2),
        thread_id=root.id,
        in_reply_to_id=root.id,
        attachments=[{"content_type": "application/pdf", "title": "Schedule.pdf"}],
    )
    digest = Communication(
        patient_id=patient.id,
        channel=CommunicationChannel.EMAIL,
        direction=Direction.OUTBOUND,
        status=CommunicationStatus.BOUNCED,
        failed_reason="550 mailbox unavailable",
        campaign_id=campaign.id,
        message_type=MessageType.ALUMNI_EVENTS,
        reminder_kind=ReminderKind.ALUMNI_EVENT,
        sent_at=NOW - timedelta(days=1),
    )
    session.add_all([reply, digest])
    session.flush()
    session.expire_all()

    thread = session.scalars(
        select(Communication)
        .where(Communication.id == root.id)
        .options(
            selectinload(Communication.thread_messages).selectinload(Communication.in_reply_to)
        )
    ).one()
    [answer] = thread.thread_messages
    assert answer.body == "Moved you to 3 PM."
    assert answer.in_reply_to is not None
    assert answer.in_reply_to.id == root.id
    assert answer.attachments[0]["title"] == "Schedule.pdf"
    assert answer.read_at is not None
    assert answer.read_at.tzinfo is not None
    bounced = session.scalars(
        select(Communication)
        .where(Communication.id == digest.id)
        .options(selectinload(Communication.campaign))
    ).one()
    assert bounced.status is CommunicationStatus.BOUNCED
    assert bounced.campaign is not None
    assert bounced.campaign.name == "Alumni digest"


def test_call_duration_cannot_be_negative(session: Session) -> None:
    patient = _patient(session)
    session.add(
        Communication(
            patient_id=patient.id,
            channel=CommunicationChannel.PHONE,
            direction=Direction.OUTBOUND,
            duration_seconds=-5,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_communication_provenance_is_unique(session: Session) -> None:
    patient = _patient(session)
    for _ in range(2):
        session.add(
            Communication(
                patient_id=patient.id,
                channel=CommunicationChannel.SMS,
                direction=Direction.OUTBOUND,
                source_system="twilio",
                source_id="SM123",
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_stale_communication_update_is_refused(session: Session) -> None:
    patient = _patient(session)
    message = Communication(
        patient_id=patient.id, channel=CommunicationChannel.SMS, direction=Direction.OUTBOUND
    )
    session.add(message)
    session.flush()
    session.execute(
        update(Communication)
        .where(Communication.id == message.id)
        .values(version=message.version + 1, status=CommunicationStatus.DELIVERED)
        .execution_options(synchronize_session=False)
    )
    message.status = CommunicationStatus.FAILED
    with pytest.raises(StaleDataError):
        session.flush()


def test_one_preference_per_channel_and_message_type(session: Session) -> None:
    patient = _patient(session)
    session.add_all(
        [
            ContactPreference(
                patient_id=patient.id,
                channel=PreferenceChannel.SMS,
                message_type=MessageType.MARKETING,
                allowed=False,
            ),
            ContactPreference(
                patient_id=patient.id,
                channel=PreferenceChannel.EMAIL,
                message_type=MessageType.MARKETING,
                allowed=True,
            ),
        ]
    )
    session.flush()
    session.add(
        ContactPreference(
            patient_id=patient.id,
            channel=PreferenceChannel.SMS,
            message_type=MessageType.MARKETING,
            allowed=True,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_settings_are_one_row_per_patient_and_keep_quiet_hours(session: Session) -> None:
    patient = _patient(session)
    settings = CommunicationSettings(
        patient_id=patient.id,
        preferred_channel=PreferenceChannel.WHATSAPP,
        language="es",
        quiet_hours_start=time(21, 0),
        quiet_hours_end=time(8, 0),
        timezone="America/Chicago",
    )
    session.add(settings)
    session.flush()
    session.expire_all()
    got = session.get(CommunicationSettings, settings.id)
    assert got is not None
    assert (got.quiet_hours_start, got.quiet_hours_end) == (time(21, 0), time(8, 0))
    assert got.preferred_channel is PreferenceChannel.WHATSAPP
    session.add(CommunicationSettings(patient_id=patient.id))
    with pytest.raises(IntegrityError):
        session.flush()


def test_preference_changes_are_insert_only(session: Session) -> None:
    patient = _patient(session)
    stop = Communication(
        patient_id=patient.id,
        channel=CommunicationChannel.SMS,
        direction=Direction.INBOUND,
        status=CommunicationStatus.RECEIVED,
        body="STOP",
        sent_at=NOW,
    )
    session.add(stop)
    session.flush()
    change = PreferenceChange(
        patient_id=patient.id,
        setting="contact_preference",
        channel=PreferenceChannel.SMS,
        message_type=MessageType.SURVEYS,
        old_value="allowed",
        new_value="refused",
        changed_by=PreferenceChangeActor.STOP_REPLY,
        method_detail="SMS STOP",
        communication_id=stop.id,
        changed_at=NOW,
    )
    session.add(change)
    session.flush()
    change.new_value = "allowed"
    with pytest.raises(InsertOnlyError):
        session.flush()


def test_part2_consent_round_trip_and_sensitivity_filter(session: Session) -> None:
    sink = RowSink(random.Random(2), recorded_at=NOW)
    witness = staff_user(sink, "Maria Lopez")
    sink.flush(session.connection())
    patient = _patient(session)
    part2 = Consent(
        patient_id=patient.id,
        kind=ConsentKind.PART2_DISCLOSURE,
        status=ConsentStatus.ACTIVE,
        recipient_type=RecipientType.CARE_TEAM,
        recipients=[{"id": "team-1", "name": "Back Bay IOP"}],
        purpose_of_use=Code("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT", None),
        data_categories=["substance_use_treatment", "medications"],
        policy_rule="42 CFR Part 2",
        expiration_event="One year after discharge",
        granted_at=NOW - timedelta(days=30),
        source=ConsentSource.PAPER,
        witness_id=witness,
        sensitivity=Sensitivity.PART2,
    )
    treatment = Consent(
        patient_id=patient.id,
        kind=ConsentKind.TREATMENT,
        status=ConsentStatus.ACTIVE,
        granted_at=NOW - timedelta(days=30),
    )
    session.add_all([part2, treatment])
    session.flush()
    session.expire_all()
    flagged = session.scalars(
        select(Consent).where(
            Consent.patient_id == patient.id,
            Consent.sensitivity.op("&")(int(Sensitivity.PART2)) != 0,
        )
    ).all()
    assert [c.kind for c in flagged] == [ConsentKind.PART2_DISCLOSURE]
    got = flagged[0]
    assert got.recipients == [{"id": "team-1", "name": "Back Bay IOP"}]
    assert got.data_categories == ["substance_use_treatment", "medications"]
    assert got.purpose_of_use is not None
    assert got.purpose_of_use.code == "TREAT"
    assert got.provision_type.value == "permit"


def test_one_response_per_invitation_link(session: Session) -> None:
    patient = _patient(session)
    invitation = _invitation(patient)
    session.add(invitation)
    session.flush()
    response = SurveyResponse(
        patient_id=patient.id,
        invitation_id=invitation.id,
        nps=9,
        csat=5,
        comments="Great staff",
        answers={"would_return": True},
        submitted_at=NOW - timedelta(days=1),
        via=SurveyVia.LINK,
    )
    session.add(response)
    session.flush()
    session.expire_all()
    got = session.scalars(
        select(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id)
        .options(selectinload(SurveyInvitation.response))
    ).one()
    assert got.response is not None
    assert (got.response.nps, got.response.csat) == (9, 5)
    assert got.response.answers == {"would_return": True}
    session.add(
        SurveyResponse(
            patient_id=patient.id,
            invitation_id=invitation.id,
            nps=2,
            submitted_at=NOW,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_survey_token_hash_is_unique(session: Session) -> None:
    patient = _patient(session)
    session.add(_invitation(patient, "same"))
    session.flush()
    session.add(_invitation(patient, "same", survey_kind=SurveyKind.ALUMNI))
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.parametrize(("nps", "csat"), [(11, 3), (-1, 3), (5, 0), (5, 6)])
def test_scores_stay_in_range(session: Session, nps: int, csat: int) -> None:
    patient = _patient(session)
    invitation = _invitation(patient)
    session.add(invitation)
    session.flush()
    session.add(
        SurveyResponse(
            patient_id=patient.id, invitation_id=invitation.id, nps=nps, csat=csat, submitted_at=NOW
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_testimonial_with_revoked_publication_consent(session: Session) -> None:
    patient = _patient(session)
    consent = Consent(
        patient_id=patient.id,
        kind=ConsentKind.TESTIMONIAL_PUBLICATION,
        status=ConsentStatus.REVOKED,
        granted_at=NOW - timedelta(days=60),
        revoked_at=NOW - timedelta(days=1),
    )
    session.add(consent)
    session.flush()
    review = Review(
        patient_id=patient.id,
        kind=ReviewKind.TESTIMONIAL,
        platform=ReviewPlatform.WEBSITE,
        rating=5,
        title="I got my life back",
        body="...",
        consent_to_publish=False,
        consent_id=consent.id,
        publish_consent_at=NOW - timedelta(days=60),
        publish_consent_revoked_at=NOW - timedelta(days=1),
        published_at=NOW - timedelta(days=50),
        moderation_status=ModerationStatus.HIDDEN,
    )
    session.add(review)
    session.flush()
    session.expire_all()
    got = session.get(Review, review.id)
    assert got is not None
    assert got.moderation_status is ModerationStatus.HIDDEN
    assert got.publish_consent_revoked_at == NOW - timedelta(days=1)
    session.add(Review(patient_id=patient.id, kind=ReviewKind.ONLINE_REVIEW, rating=6))
    with pytest.raises(IntegrityError):
        session.flush()


ENUM_COLUMNS: list[tuple[type[Base], str, type[enum.StrEnum], dict[str, Any]]] = [
    (Communication, "channel", CommunicationChannel, {"direction": Direction.OUTBOUND}),
    (
        Communication,
        "status",
        CommunicationStatus,
        {"channel": CommunicationChannel.SMS, "direction": Direction.OUTBOUND},
    ),
    (
        ContactPreference,
        "channel",
        PreferenceChannel,
        {"message_type": MessageType.BILLING, "allowed": True},
    ),
    (
        ContactPreference,
        "message_type",
        MessageType,
        {"channel": PreferenceChannel.EMAIL, "allowed": False},
    ),
    (Consent, "kind", ConsentKind, {}),
    (Consent, "status", ConsentStatus, {"kind": ConsentKind.RESEARCH}),
    (Review, "kind", ReviewKind, {}),
]


@pytest.mark.parametrize(("model", "attr", "enum_type", "values"), ENUM_COLUMNS)
def test_enum_values_are_stored_as_lowercase_values(
    session: Session,
    model: type[Base],
    attr: str,
    enum_type: type[enum.StrEnum],
    values: dict[str, Any],
) -> None:
    patient = _patient(session)
    for member in enum_type:
        session.add(model(patient_id=patient.id, **{attr: member}, **values))
    session.flush()
    session.expire_all()
    table = table_of(model)
    raw = session.scalars(select(table.c[attr]).where(table.c.patient_id == patient.id)).all()
    assert sorted(raw) == sorted(m.value for m in enum_type)
    loaded = session.scalars(
        select(getattr(model, attr)).where(table.c.patient_id == patient.id)
    ).all()
    assert set(loaded) == set(enum_type)
    assert all(isinstance(v, enum_type) for v in loaded)
