"""Demo engagement: messages and calls, contact preferences, consents, surveys, reviews.

Per patient (averages): inquiry-only ~3 rows (settings, a call back, often an e-mail);
in treatment ~10; discharged ~12; alumni ~13 (communications on several channels in
both directions, 2-3 preference cells, 1-2 preference changes, consents, a survey for the
discharged, now and then a review or testimonial). Reads ``journey.sud``,
``journey.discharge_id``, ``patients.mobile``, ``scheduling.appointments``,
``scheduling.encounters`` and ``careplans.task_ids`` from ``patient.facts`` when present.
Consents, surveys and reviews are written by :mod:`backend.demo.engagement_feedback`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any

from backend.accounts.models import StaffRole
from backend.common.types import Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at, between, new_id
from backend.demo.engagement_feedback import consents, discharge_survey, review, visit_survey
from backend.demo.journey import staff_of
from backend.demo.sink import RowSink
from backend.engagement.models import (
    Campaign,
    Communication,
    CommunicationChannel,
    CommunicationSettings,
    CommunicationStatus,
    ContactPreference,
    Direction,
    MessageType,
    PreferenceChange,
    PreferenceChangeActor,
    PreferenceChannel,
    ReminderKind,
)

CLINIC_SMS = "+16175550199"
CLINIC_PHONE = "+16175550100"
CLINIC_EMAIL = "care@harborview.example.org"
CAMPAIGNS = (
    ("Monthly wellness newsletter", CommunicationChannel.EMAIL, MessageType.MARKETING),
    ("Alumni events digest", CommunicationChannel.EMAIL, MessageType.ALUMNI_EVENTS),
    ("Quarterly patient experience survey", CommunicationChannel.SMS, MessageType.SURVEYS),
    ("Patient portal launch", CommunicationChannel.EMAIL, MessageType.CARE_PLAN_UPDATES),
    ("Recovery Month walk invitation", CommunicationChannel.WHATSAPP, MessageType.ALUMNI_EVENTS),
)
CALL_NOTES = (
    "Reviewed coping skills and weekend plan; patient feels ready for group on Monday.",
    "Patient called about medication side effects (nausea); routed to nurse.",
    "Discussed insurance authorization for continued stay; patient agrees to next steps.",
    "Check-in after missed session; rescheduled for Thursday.",
)
SUD_CALL_NOTES = (
    "Cravings after a family conflict; reviewed relapse prevention plan, no use reported.",
    "Discussed MAT adherence and upcoming urine drug screen.",
)
PORTAL_QUESTIONS = (
    ("Moving my Thursday session?", "Hi, could I move Thursday's session to the afternoon?"),
    ("Work note", "Could you send a note for my employer about my program schedule?"),
    ("Refill question", "My prescription runs out next week, who should I contact?"),
)
PORTAL_ANSWERS = (
    "Of course, I've moved you to 3:00 PM Thursday. See you then!",
    "I've uploaded a letter to your documents in the portal.",
    "I've sent a refill request to your prescriber; the pharmacy will text you.",
)
OPTIONAL_PREFERENCES = (
    (PreferenceChannel.EMAIL, MessageType.CARE_PLAN_UPDATES, True),
    (PreferenceChannel.WHATSAPP, MessageType.APPOINTMENT_REMINDERS, True),
    (PreferenceChannel.PORTAL, MessageType.LAB_RESULT_NOTICES, True),
    (PreferenceChannel.MAIL, MessageType.BILLING, True),
    (PreferenceChannel.EMAIL, MessageType.ALUMNI_EVENTS, True),
)


def _first(ctx: DemoContext, role: StaffRole) -> uuid.UUID | None:
    """The demo login holding ``role`` (None if nobody holds it)."""
    holders = ctx.staff.get(role)
    return holders[0] if holders else None


def setup(ctx: DemoContext, sink: RowSink) -> None:
    rng = ctx.rng(None, "engagement")
    admin = _first(ctx, StaffRole.ADMIN)
    campaigns: dict[MessageType, uuid.UUID] = {}
    for n, (name, channel, message_type) in enumerate(CAMPAIGNS):
        started = at(ctx.now - timedelta(days=rng.randrange(30, 400)), rng)
        campaigns.setdefault(
            message_type,
            sink.add(
                Campaign,
                id=new_id(rng),
                name=name,
                channel=channel,
                message_type=message_type,
                description=f"{name} ({channel.value}).",
                audience="Alumni" if message_type is MessageType.ALUMNI_EVENTS else "All patients",
                started_at=started,
                ended_at=started + timedelta(days=14) if n % 2 else None,
                created_by_id=admin,
                source_id=f"demo-campaign-{n}",
            ),
        )
    ctx.shared["engagement.campaigns"] = campaigns


class Writer:
    """One patient's engagement rows; keeps the shared bits (rng, ids, addresses) handy."""

    def __init__(self, ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
        self.ctx = ctx
        self.patient = patient
        self.sink = sink
        self.rng = ctx.rng(patient, "engagement")
        self.now = ctx.now
        self.sud = bool(patient.facts.get("journey.sud", False))
        self.mobile: str | None = patient.facts.get("patients.mobile")
        fallback = f"{patient.given_name}.{patient.family_name}@example.com".lower()
        self.email: str = patient.facts.get("patients.email") or fallback.replace(" ", "")
        self.start = patient.admitted_at or patient.first_contact_at
        self.end = min(patient.discharged_at or self.now, self.now)

    def staff(self, role: StaffRole) -> uuid.UUID | None:
        return staff_of(self.ctx, self.patient, role, self.rng)

    def when(self, start: datetime | None = None, end: datetime | None = None) -> datetime:
        low = start or self.start
        moment = at(between(self.rng, low, end or self.end), self.rng)
        return max(min(moment, self.now), low)

    def message(
        self,
        channel: CommunicationChannel,
        direction: Direction,
        sent: datetime,
        *,
        read: bool = True,
        **values: Any,
    ) -> uuid.UUID:
        """Add one communication with delivery timestamps that follow from ``sent``."""
        rng = self.rng
        delivered = min(sent + timedelta(seconds=rng.randrange(2, 90)), self.now)
        status = values.pop("status", None)
        if status is None:
            if direction is Direction.INBOUND:
                status = CommunicationStatus.RECEIVED
            elif read and channel in (
                CommunicationChannel.EMAIL,
                CommunicationChannel.PORTAL_MESSAGE,
                CommunicationChannel.WHATSAPP,
            ):
                status = CommunicationStatus.READ
            else:
                status = CommunicationStatus.DELIVERED
        failed = status in (CommunicationStatus.FAILED, CommunicationStatus.BOUNCED)
        patient_address = {
            CommunicationChannel.EMAIL: self.email,
            CommunicationChannel.SMS: self.mobile,
            CommunicationChannel.WHATSAPP: self.mobile,
            CommunicationChannel.PHONE: self.mobile,
        }.get(channel)
        clinic_address = {
            CommunicationChannel.EMAIL: CLINIC_EMAIL,
            CommunicationChannel.SMS: CLINIC_SMS,
            CommunicationChannel.WHATSAPP: CLINIC_SMS,
            CommunicationChannel.PHONE: CLINIC_PHONE,
        }.get(channel)
        values.setdefault("id", new_id(rng))
        return self.sink.add(
            Communication,
            patient_id=self.patient.id,
            effective_at=sent,
            channel=channel,
            direction=direction,
            status=status,
            patient_address=patient_address,
            clinic_address=clinic_address,
            sent_at=sent,
            delivered_at=None if failed else delivered,
            read_at=min(delivered + timedelta(minutes=rng.randrange(1, 600)), self.now)
            if status in (CommunicationStatus.READ, CommunicationStatus.REPLIED)
            else None,
            gateway_message_id=f"SM{values['id'].hex[:30]}"
            if channel in (CommunicationChannel.SMS, CommunicationChannel.WHATSAPP)
            else None,
            **values,
        )


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    w = Writer(ctx, patient, sink)
    _settings(w)
    if patient.admitted_at is None:
        _inquiry_contact(w)
        return
    _preferences(w)
    consents(w)
    _reminders(w)
    if w.rng.random() < 0.7:
        _care_plan_email(w)
    _phone_call(w)
    if w.rng.random() < 0.25:
        _portal_thread(w)
    if w.rng.random() < 0.15:
        w.message(
            CommunicationChannel.WHATSAPP,
            Direction.OUTBOUND,
            w.when(),
            staff_id=w.staff(StaffRole.CARE_COORDINATOR),
            body="Hi! Just checking in before tomorrow's group. Reply if you need anything.",
        )
    if patient.discharged_at is not None:
        discharge_survey(w)
    elif w.rng.random() < 0.15:
        visit_survey(w)
    if patient.stage is JourneyStage.ALUMNI and w.rng.random() < 0.5:
        campaign = ctx.shared.get("engagement.campaigns", {}).get(MessageType.ALUMNI_EVENTS)
        w.message(
            CommunicationChannel.EMAIL,
            Direction.OUTBOUND,
            w.when(patient.discharged_at, w.now),
            subject="This month in the alumni network",
            body="Join us for the monthly alumni meeting and the recovery walk.",
            message_type=MessageType.ALUMNI_EVENTS,
            reminder_kind=ReminderKind.ALUMNI_EVENT,
            campaign_id=campaign,
        )
    review(w)


def _settings(w: Writer) -> None:
    rng, patient = w.rng, w.patient
    quiet = rng.random() < 0.35
    w.sink.add(
        CommunicationSettings,
        patient_id=patient.id,
        effective_at=patient.first_contact_at,
        preferred_channel=rng.choices(
            (PreferenceChannel.SMS, PreferenceChannel.PHONE, PreferenceChannel.EMAIL, None),
            weights=(0.45, 0.2, 0.3, 0.05),
        )[0],
        language=patient.facts.get("patients.language") or "en",
        quiet_hours_start=time(21, 0) if quiet else None,
        quiet_hours_end=time(8, 0) if quiet else None,
        timezone="America/New_York",
        do_not_contact=False,
    )


def _inquiry_contact(w: Writer) -> None:
    rng, patient = w.rng, w.patient
    asked = patient.first_contact_at
    call_at = min(asked + timedelta(minutes=rng.randrange(20, 60 * 30)), w.now)
    answered = rng.random() < 0.6
    w.message(
        CommunicationChannel.PHONE,
        Direction.OUTBOUND,
        call_at,
        status=CommunicationStatus.DELIVERED if answered else CommunicationStatus.FAILED,
        failed_reason=None if answered else "No answer; voicemail left",
        duration_seconds=rng.randrange(300, 1500) if answered else rng.randrange(20, 60),
        staff_id=w.staff(StaffRole.FRONT_DESK),
        body="Returned inquiry call: screened needs, explained programs and insurance."
        if answered
        else "Left voicemail with call-back number.",
        visible_to_patient=False,
        sensitivity=Sensitivity.PART2 if w.sud else Sensitivity.NONE,
    )
    if rng.random() < 0.7:
        w.message(
            CommunicationChannel.EMAIL,
            Direction.OUTBOUND,
            min(call_at + timedelta(hours=rng.randrange(1, 48)), w.now),
            read=rng.random() < 0.6,
            staff_id=w.staff(StaffRole.FRONT_DESK),
            subject="Information about Harborview programs",
            body="Thank you for reaching out. Attached is our program guide and intake form.",
            attachments=[{"content_type": "application/pdf", "title": "Program guide.pdf"}],
            message_type=MessageType.CARE_PLAN_UPDATES,
        )


def _preferences(w: Writer) -> None:
    rng, patient, sink = w.rng, w.patient, w.sink
    start = w.start
    intake_staff = w.staff(StaffRole.FRONT_DESK)
    cells = [
        (PreferenceChannel.SMS, MessageType.APPOINTMENT_REMINDERS, True),
        (PreferenceChannel.EMAIL, MessageType.MARKETING, False),
    ]
    if rng.random() < 0.2:
        cells.append(rng.choice(OPTIONAL_PREFERENCES))
    stop = rng.random() < 0.1
    for channel, message_type, allowed in cells:
        sink.add(
            ContactPreference,
            patient_id=patient.id,
            effective_at=start,
            channel=channel,
            message_type=message_type,
            allowed=allowed,
        )
    sink.add(
        PreferenceChange,
        patient_id=patient.id,
        effective_at=start,
        setting="contact_preference",
        channel=PreferenceChannel.SMS,
        message_type=MessageType.APPOINTMENT_REMINDERS,
        old_value=None,
        new_value="allowed",
        changed_by=PreferenceChangeActor.STAFF,
        staff_id=intake_staff,
        method_detail="Intake paperwork",
        changed_at=start,
    )
    if stop:
        campaign = w.ctx.shared.get("engagement.campaigns", {}).get(MessageType.SURVEYS)
        survey_at = w.when()
        survey = w.message(
            CommunicationChannel.SMS,
            Direction.OUTBOUND,
            survey_at,
            status=CommunicationStatus.REPLIED,
            replied_at=min(survey_at + timedelta(minutes=3), w.now),
            body="Harborview: how are we doing? Tap to rate us: https://hv.example.org/s "
            "Reply STOP to opt out.",
            message_type=MessageType.SURVEYS,
            campaign_id=campaign,
        )
        reply_at = min(survey_at + timedelta(minutes=3), w.now)
        reply = w.message(
            CommunicationChannel.SMS,
            Direction.INBOUND,
            reply_at,
            body="STOP",
            in_reply_to_id=survey,
            thread_id=survey,
        )
        sink.add(
            ContactPreference,
            patient_id=patient.id,
            effective_at=reply_at,
            channel=PreferenceChannel.SMS,
            message_type=MessageType.SURVEYS,
            allowed=False,
        )
        sink.add(
            PreferenceChange,
            patient_id=patient.id,
            effective_at=reply_at,
            setting="contact_preference",
            channel=PreferenceChannel.SMS,
            message_type=MessageType.SURVEYS,
            old_value="allowed",
            new_value="refused",
            changed_by=PreferenceChangeActor.STOP_REPLY,
            method_detail="SMS STOP",
            communication_id=reply,
            changed_at=reply_at,
        )
    elif rng.random() < 0.25:
        changed = w.when()
        sink.add(
            PreferenceChange,
            patient_id=patient.id,
            effective_at=changed,
            setting="preferred_channel",
            old_value="phone",
            new_value=rng.choice(("sms", "email")),
            changed_by=PreferenceChangeActor.PATIENT_PORTAL,
            method_detail="Portal settings page",
            changed_at=changed,
        )


def _reminders(w: Writer) -> None:
    rng = w.rng
    appointments = [
        (appointment_id, start)
        for appointment_id, start, status in w.patient.facts.get("scheduling.appointments", [])
        if status != "cancelled" and start - timedelta(days=1) <= w.now
    ]
    if appointments:
        appointment_id: uuid.UUID | None
        appointment_id, start = rng.choice(appointments)
    else:
        appointment_id, start = None, w.when() + timedelta(days=1)
    sent = max(start - timedelta(days=1), w.patient.first_contact_at)
    confirmed = rng.random() < 0.3
    w.message(
        CommunicationChannel.SMS,
        Direction.OUTBOUND,
        sent,
        status=CommunicationStatus.REPLIED if confirmed else None,
        replied_at=sent + timedelta(minutes=rng.randrange(1, 120)) if confirmed else None,
        body=f"Harborview: reminder of your appointment {start:%a %b %d at %I:%M %p} UTC. "
        "Reply C to confirm or call (617) 555-0100 to reschedule.",
        message_type=MessageType.APPOINTMENT_REMINDERS,
        reminder_kind=ReminderKind.APPOINTMENT,
        about_type="appointment" if appointment_id else None,
        about_id=appointment_id,
    )


def _care_plan_email(w: Writer) -> None:
    rng = w.rng
    tasks: list[uuid.UUID] = w.patient.facts.get("careplans.task_ids") or []
    task = rng.choice(tasks) if tasks else None
    bounced = rng.random() < 0.06
    w.message(
        CommunicationChannel.EMAIL,
        Direction.OUTBOUND,
        w.when(),
        status=CommunicationStatus.BOUNCED if bounced else None,
        failed_reason="550 5.1.1 mailbox unavailable" if bounced else None,
        read=rng.random() < 0.7,
        staff_id=w.staff(StaffRole.CARE_COORDINATOR),
        subject="You have a new task in your care plan" if task else "Your care plan was updated",
        body="Please log in to the patient portal to review your updated care plan and tasks.",
        message_type=MessageType.CARE_PLAN_UPDATES,
        reminder_kind=ReminderKind.TASK_DUE if task else ReminderKind.CARE_PLAN_REVIEW,
        task_id=task,
    )


def _phone_call(w: Writer) -> None:
    rng = w.rng
    inbound = rng.random() < 0.4
    sud_call = w.sud and rng.random() < 0.6
    w.message(
        CommunicationChannel.PHONE,
        Direction.INBOUND if inbound else Direction.OUTBOUND,
        w.when(),
        status=CommunicationStatus.RECEIVED if inbound else CommunicationStatus.DELIVERED,
        duration_seconds=rng.randrange(90, 1800),
        staff_id=w.staff(StaffRole.THERAPIST if sud_call else StaffRole.CARE_COORDINATOR),
        body=rng.choice(SUD_CALL_NOTES if sud_call else CALL_NOTES),
        visible_to_patient=False,
        sensitivity=Sensitivity.PART2 if sud_call else Sensitivity.NONE,
    )


def _portal_thread(w: Writer) -> None:
    rng = w.rng
    pick = rng.randrange(len(PORTAL_QUESTIONS))
    subject, question = PORTAL_QUESTIONS[pick]
    asked = w.when()
    answered = min(asked + timedelta(hours=rng.uniform(0.5, 20)), w.now)
    root = w.message(
        CommunicationChannel.PORTAL_MESSAGE,
        Direction.INBOUND,
        asked,
        status=CommunicationStatus.REPLIED,
        replied_at=answered,
        subject=subject,
        body=question,
    )
    w.message(
        CommunicationChannel.PORTAL_MESSAGE,
        Direction.OUTBOUND,
        answered,
        staff_id=w.staff(StaffRole.CARE_COORDINATOR),
        subject=f"Re: {subject}",
        body=PORTAL_ANSWERS[pick],
        thread_id=root,
        in_reply_to_id=root,
    )
