"""Demo consents, satisfaction surveys and reviews: the engagement generator's second half.

Called by :mod:`backend.demo.engagement` with its :class:`~backend.demo.engagement.Writer`,
so every draw comes from the engagement domain's random stream.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from backend.accounts.models import StaffRole
from backend.common.types import Sensitivity
from backend.demo.context import JourneyStage, new_id
from backend.engagement.models import (
    CommunicationChannel,
    Consent,
    ConsentKind,
    ConsentSource,
    ConsentStatus,
    Direction,
    MessageType,
    ModerationStatus,
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

if TYPE_CHECKING:
    from backend.demo.engagement import Writer

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
COMMENTS = (
    "The group sessions changed my life. Staff were kind every single day.",
    "Good program but the wait for intake was long.",
    "My therapist really listened. Parking at Back Bay is hard though.",
    "I finally have tools to manage my anxiety.",
    None,
)
TESTIMONIALS = (
    ("I got my life back", "A year ago I could not get out of bed. Today I coach my kid's team."),
    ("Grateful every day", "Harborview met me where I was. I am 400 days sober."),
    ("Not alone anymore", "The alumni meetings keep me connected with people who get it."),
)


def consents(w: Writer) -> None:
    """Treatment for everyone admitted, Part 2 disclosure for SUD, telehealth, research."""
    rng, patient, sink = w.rng, w.patient, w.sink
    admitted = w.start
    witness = w.staff(StaffRole.FRONT_DESK)
    source = rng.choice((ConsentSource.PAPER, ConsentSource.PORTAL, ConsentSource.STAFF_ENTRY))
    sink.add(
        Consent,
        patient_id=patient.id,
        effective_at=admitted,
        kind=ConsentKind.TREATMENT,
        status=ConsentStatus.ACTIVE,
        recipient_type=RecipientType.ORGANIZATION,
        recipients=[{"name": "Harborview Behavioral Health"}],
        purpose="Consent to behavioral health treatment",
        purpose_of_use_system=ACT_REASON,
        purpose_of_use_code="TREAT",
        purpose_of_use_display="treatment",
        period_start=admitted,
        granted_at=admitted,
        source=source,
        witness_id=witness if source is ConsentSource.PAPER else None,
        document_ref=f"documents/consent-treatment-{patient.index}.pdf",
    )
    if w.sud:
        revoked = rng.random() < 0.05
        revoked_at = w.when() if revoked else None
        sink.add(
            Consent,
            patient_id=patient.id,
            effective_at=admitted,
            sensitivity=Sensitivity.PART2,
            kind=ConsentKind.PART2_DISCLOSURE,
            status=ConsentStatus.REVOKED if revoked else ConsentStatus.ACTIVE,
            recipient_type=RecipientType.CARE_TEAM,
            recipients=[{"id": str(patient.care_team_id), "name": "Assigned care team"}],
            purpose="Coordination of substance use disorder treatment",
            purpose_of_use_system=ACT_REASON,
            purpose_of_use_code="TREAT",
            purpose_of_use_display="treatment",
            data_categories=["substance_use_treatment", "diagnoses", "medications", "lab_results"],
            policy_rule="42 CFR Part 2",
            period_start=admitted,
            expiration_event="One year after discharge",
            granted_at=admitted,
            revoked_at=revoked_at,
            revocation_reason="Patient asked to stop sharing with the team" if revoked else None,
            source=source,
            witness_id=witness,
            document_ref=f"documents/consent-part2-{patient.index}.pdf",
        )
    if rng.random() < 0.25:
        sink.add(
            Consent,
            patient_id=patient.id,
            effective_at=admitted,
            kind=ConsentKind.TELEHEALTH,
            status=ConsentStatus.ACTIVE,
            purpose="Sessions by video",
            period_start=admitted,
            granted_at=admitted,
            source=ConsentSource.PORTAL,
        )
    if rng.random() < 0.12:
        asked = w.when()
        agreed = rng.random() < 0.6
        sink.add(
            Consent,
            patient_id=patient.id,
            effective_at=asked,
            kind=ConsentKind.RESEARCH,
            status=ConsentStatus.ACTIVE if agreed else ConsentStatus.REJECTED,
            recipient_type=RecipientType.ORGANIZATION,
            recipients=[{"name": "Harborview Outcomes Research Registry"}],
            purpose="De-identified outcomes research",
            purpose_of_use_system=ACT_REASON,
            purpose_of_use_code="HRESCH",
            purpose_of_use_display="healthcare research",
            data_categories=["assessments", "diagnoses"],
            period_start=asked if agreed else None,
            granted_at=asked if agreed else None,
            source=ConsentSource.PORTAL,
        )


def _survey(
    w: Writer,
    kind: SurveyKind,
    sent: datetime,
    response_rate: float,
    **link: Any,
) -> None:
    rng, patient, sink = w.rng, w.patient, w.sink
    sent = min(sent, w.now)
    channel = rng.choice((CommunicationChannel.SMS, CommunicationChannel.EMAIL))
    invitation_id = new_id(rng)
    # E-mailed links keep their message; SMS links are only in the invitation (budget).
    carrier = (
        w.message(
            channel,
            Direction.OUTBOUND,
            sent,
            subject="How did we do?",
            body="Harborview would love your feedback: https://hv.example.org/s/<link>",
            message_type=MessageType.SURVEYS,
            reminder_kind=ReminderKind.SURVEY,
            about_type="survey_invitation",
            about_id=invitation_id,
        )
        if channel is CommunicationChannel.EMAIL
        else None
    )
    token = rng.getrandbits(256).to_bytes(32, "big")
    submitted = min(sent + timedelta(hours=rng.uniform(0.2, 96)), w.now)
    responded = rng.random() < response_rate and submitted > sent
    sink.add(
        SurveyInvitation,
        id=invitation_id,
        patient_id=patient.id,
        effective_at=sent,
        survey_kind=kind,
        token_hash=hashlib.sha256(token).hexdigest(),
        channel=channel,
        communication_id=carrier,
        sent_at=sent,
        expires_at=sent + timedelta(days=14),
        used_at=submitted if responded else None,
        reminders_sent=0 if responded else rng.randrange(0, 3),
        **link,
    )
    if not responded:
        return
    nps = min(10, max(0, round(rng.gauss(8.4, 1.8))))
    sink.add(
        SurveyResponse,
        patient_id=patient.id,
        effective_at=submitted,
        invitation_id=invitation_id,
        nps=nps,
        csat=min(5, max(1, round(nps / 2))),
        comments=rng.choice(COMMENTS),
        answers={"felt_respected": min(5, nps // 2 + 1), "would_return": nps >= 7},
        submitted_at=submitted,
        via=rng.choices(list(SurveyVia), weights=(0.8, 0.15, 0.05))[0],
    )


def discharge_survey(w: Writer) -> None:
    """A discharge survey a few days after discharge, answered two times in three."""
    assert w.patient.discharged_at is not None
    sent = w.patient.discharged_at + timedelta(days=w.rng.randrange(1, 4))
    _survey(
        w,
        SurveyKind.DISCHARGE,
        sent,
        0.65,
        discharge_id=w.patient.facts.get("journey.discharge_id"),
    )


def visit_survey(w: Writer) -> None:
    """A visit survey after one completed encounter, when scheduling left any."""
    encounters = w.patient.facts.get("scheduling.encounters") or []
    if not encounters:
        return
    encounter_id, start, _provider = w.rng.choice(encounters)
    # Every fourth patient is asked about their latest visit instead, so some links are
    # still open today and the portal's survey pages have something to show. No extra
    # draw: the rest of the demo stays the same.
    latest = max(encounters, key=lambda e: e[1])
    if w.patient.index % 4 == 0 and w.now - latest[1] < timedelta(days=10):
        encounter_id, start, _provider = latest
    _survey(w, SurveyKind.VISIT, start + timedelta(hours=3), 0.5, encounter_id=encounter_id)


def review(w: Writer) -> None:
    """Now and then a testimonial (with its consent), an online review or feedback."""
    rng, patient, sink = w.rng, w.patient, w.sink
    chance = {JourneyStage.ALUMNI: 0.5, JourneyStage.DISCHARGED: 0.12}.get(patient.stage, 0.04)
    if rng.random() >= chance:
        return
    kind = rng.choices(
        (ReviewKind.TESTIMONIAL, ReviewKind.ONLINE_REVIEW, ReviewKind.INTERNAL_FEEDBACK),
        weights=(0.5 if patient.stage is JourneyStage.ALUMNI else 0.0, 0.3, 0.2),
    )[0]
    written = w.when(patient.discharged_at or w.start, w.now)
    admins = w.ctx.staff.get(StaffRole.ADMIN)
    moderator = admins[0] if admins else None
    initial = f"{patient.given_name} {patient.family_name[0]}."
    if kind is ReviewKind.TESTIMONIAL:
        consented = written
        revoked = rng.random() < 0.1
        revoked_at = w.when(consented, w.now) if revoked else None
        consent = sink.add(
            Consent,
            patient_id=patient.id,
            effective_at=consented,
            kind=ConsentKind.TESTIMONIAL_PUBLICATION,
            status=ConsentStatus.REVOKED if revoked else ConsentStatus.ACTIVE,
            recipient_type=RecipientType.ORGANIZATION,
            recipients=[{"name": "Harborview website and brochures"}],
            purpose="Publish testimonial with first name and initial",
            purpose_of_use_system=ACT_REASON,
            purpose_of_use_code="HMARKT",
            purpose_of_use_display="healthcare marketing",
            period_start=consented,
            granted_at=consented,
            revoked_at=revoked_at,
            source=ConsentSource.PORTAL,
        )
        title, body = rng.choice(TESTIMONIALS)
        published = min(consented + timedelta(days=rng.randrange(2, 20)), w.now)
        sink.add(
            Review,
            patient_id=patient.id,
            effective_at=written,
            kind=kind,
            platform=ReviewPlatform.WEBSITE,
            rating=5,
            title=title,
            body=body,
            display_name=initial,
            consent_to_publish=not revoked,
            consent_id=consent,
            publish_consent_at=consented,
            publish_consent_revoked_at=revoked_at,
            published_at=published,
            moderation_status=ModerationStatus.HIDDEN if revoked else ModerationStatus.APPROVED,
            moderated_by_id=moderator,
            moderated_at=published,
        )
        return
    rating = rng.choices((5, 4, 3, 2, 1), weights=(0.55, 0.25, 0.1, 0.05, 0.05))[0]
    online = kind is ReviewKind.ONLINE_REVIEW
    platform = (
        rng.choice((ReviewPlatform.GOOGLE, ReviewPlatform.YELP, ReviewPlatform.HEALTHGRADES))
        if online
        else ReviewPlatform.INTERNAL
    )
    sink.add(
        Review,
        patient_id=patient.id,
        effective_at=written,
        kind=kind,
        platform=platform,
        rating=rating,
        title="Wait times" if rating <= 3 else "Caring staff",
        body=rng.choice([c for c in COMMENTS if c]),
        external_url=f"https://reviews.example.com/harborview/{patient.index}" if online else None,
        published_at=written if online else None,
        moderation_status=ModerationStatus.APPROVED if online else ModerationStatus.PENDING,
        reply_body="Thank you for sharing; please call us so we can make it right."
        if online and rating <= 3
        else None,
        replied_at=min(written + timedelta(days=2), w.now) if online and rating <= 3 else None,
    )
