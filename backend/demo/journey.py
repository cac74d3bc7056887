"""Demo journeys: referral sources, inquiries, admissions, discharges, referrals, alumni.

Per patient (averages): inquiry-only ~1.3 rows (the inquiry, sometimes a referral out);
in treatment ~2.1 (inquiry, admission, sometimes an inbound referral); discharged ~3.4
(+ discharge, sometimes a referral out); alumni ~7 (+ membership and 2-3 event
attendances and check-ins). Setup: 7 referrer organizations, 20 referral sources, 2 alumni
programs with 10 events each. Leaves ``journey.inquiry_id``, ``journey.discharge_id``,
``journey.admission_id``, ``journey.concern`` (a key of CONCERN_BY_KEY: the patient's
main problem, which every later generator follows through
:func:`~backend.demo.journey_content.concern_of`) and ``journey.sud`` (bool:
substance-use disorder, records under 42 CFR Part 2) in ``patient.facts``.
Alumni rows come from :mod:`backend.demo.journey_alumni`, the vocabularies from
:mod:`backend.demo.journey_content`.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from backend.accounts.models import StaffRole
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at, between, new_id
from backend.demo.journey_alumni import alumni_rows
from backend.demo.journey_content import (
    CALLERS,
    DISPOSITION_SYSTEM,
    DISPOSITIONS,
    EPISODE_TYPE_SYSTEM,
    EVENT_OFFSETS,
    EVENTS,
    INSURERS,
    MEDS_MH,
    MEDS_SUD,
    PROGRAMS,
    REFER_OUT,
    REFERRERS,
    SOURCES,
    Concern,
    draw_concern,
)
from backend.demo.sink import RowSink
from backend.journey.models import (
    Admission,
    AdmissionStatus,
    AlumniEvent,
    AlumniEventKind,
    AlumniProgram,
    Discharge,
    DischargeDisposition,
    Inquiry,
    InquiryChannel,
    InquiryOutcome,
    LevelOfCare,
    Referral,
    ReferralDirection,
    ReferralSource,
    ReferralSourceKind,
    ReferralStatus,
    Urgency,
)
from backend.organization.models import Organization, OrganizationKind


def staff_of(
    ctx: DemoContext, patient: PatientSeed, role: StaffRole, rng: random.Random
) -> uuid.UUID | None:
    """A care-team member with ``role``, any holder of it, or None if nobody holds it."""
    team = ctx.care_teams.get(patient.care_team_id, {})
    members = team.get("members", {}).get(role) or ctx.staff.get(role)
    return rng.choice(members) if members else None


def setup(ctx: DemoContext, sink: RowSink) -> None:
    rng = ctx.rng(None, "journey")
    referrers = [
        sink.add(
            Organization,
            id=new_id(rng),
            name=name,
            kind=OrganizationKind.REFERRER,
            phone=phone,
            source_id=f"demo-referrer-{n}",
        )
        for n, (name, phone) in enumerate(REFERRERS)
    ]
    sources: list[tuple[uuid.UUID, ReferralSourceKind]] = []
    weights: list[float] = []
    for n, (kind, name, org, contact, campaign, weight) in enumerate(SOURCES):
        utm = campaign is not None and kind in (
            ReferralSourceKind.CAMPAIGN,
            ReferralSourceKind.SOCIAL_MEDIA,
        )
        source_id = sink.add(
            ReferralSource,
            id=new_id(rng),
            kind=kind,
            name=name,
            organization_id=referrers[org] if org is not None else None,
            contact_name=contact,
            contact_phone=REFERRERS[org][1] if org is not None else None,
            campaign_code=campaign,
            utm_source=("google" if "Google" in name else "instagram") if utm else None,
            utm_medium=("cpc" if kind is ReferralSourceKind.CAMPAIGN else "social")
            if utm
            else None,
            utm_campaign=campaign.lower() if utm and campaign else None,
            landing_url="https://harborview.example.org/get-help" if utm else None,
            active=n != len(SOURCES) - 1,
            source_id=f"demo-referral-source-{n}",
        )
        sources.append((source_id, kind))
        weights.append(weight)
    ctx.shared["journey.referral_sources"] = sources
    ctx.shared["journey.referral_source_weights"] = weights
    ctx.shared["journey.referrer_org_ids"] = referrers

    coordinators: list[uuid.UUID | None] = [*ctx.staff.get(StaffRole.ALUMNI_COORDINATOR, [])]
    coordinators = coordinators or [None]
    programs: list[uuid.UUID] = []
    events: dict[uuid.UUID, list[tuple[uuid.UUID, datetime, datetime]]] = {}
    for n, (name, description) in enumerate(PROGRAMS):
        location = ctx.location_ids[n % len(ctx.location_ids)] if ctx.location_ids else None
        program_id = sink.add(
            AlumniProgram,
            id=new_id(rng),
            name=name,
            description=description,
            location_id=location,
            coordinator_id=coordinators[n % len(coordinators)],
            contact_email=f"alumni{n + 1}@harborview.example.org",
            source_id=f"demo-alumni-program-{n}",
        )
        programs.append(program_id)
        events[program_id] = []
        # Ten events over the last two years, the last two still ahead.
        for e, (event_kind, title, minutes) in enumerate(EVENTS):
            day = ctx.now + timedelta(days=EVENT_OFFSETS[e] + rng.randrange(-5, 5))
            starts = at(day, rng, 10, 19)
            ends = starts + timedelta(minutes=minutes)
            online = event_kind is AlumniEventKind.WEBINAR
            event_id = sink.add(
                AlumniEvent,
                id=new_id(rng),
                program_id=program_id,
                title=title,
                kind=event_kind,
                starts_at=starts,
                ends_at=ends,
                location_id=None if online else location,
                venue="Castle Island Park, South Boston"
                if event_kind is AlumniEventKind.SOCIAL
                else None,
                online_url=f"https://meet.example.org/alumni-{n}-{e}" if online else None,
                capacity=None if online else rng.choice((20, 30, 40, 60)),
                host_id=coordinators[n % len(coordinators)],
                source_id=f"demo-alumni-event-{n}-{e}",
            )
            events[program_id].append((event_id, starts, ends))
    ctx.shared["journey.alumni_programs"] = programs
    ctx.shared["journey.alumni_events"] = events


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, "journey")
    concern = draw_concern(rng)
    patient.facts["journey.concern"] = concern.key
    patient.facts["journey.sud"] = concern.sud
    label = Sensitivity.PART2 if concern.sud else Sensitivity.NONE
    inquiry_id = _inquiry(ctx, patient, concern, label, rng, sink)
    patient.facts["journey.inquiry_id"] = inquiry_id
    patient.facts["journey.discharge_id"] = None
    patient.facts["journey.admission_id"] = None
    if patient.admitted_at is None:
        return
    admission_id = _admission(ctx, patient, concern, label, inquiry_id, rng, sink)
    patient.facts["journey.admission_id"] = admission_id
    if patient.discharged_at is None:
        return
    discharge_id = _discharge(ctx, patient, concern, label, admission_id, rng, sink)
    patient.facts["journey.discharge_id"] = discharge_id
    if patient.stage is JourneyStage.ALUMNI:
        coordinator = staff_of(ctx, patient, StaffRole.ALUMNI_COORDINATOR, rng)
        alumni_rows(ctx, patient, concern, label, discharge_id, coordinator, rng, sink)


def _inquiry(
    ctx: DemoContext,
    patient: PatientSeed,
    concern: Concern,
    label: Sensitivity,
    rng: random.Random,
    sink: RowSink,
) -> uuid.UUID:
    now = ctx.now
    asked = patient.first_contact_at
    sources = ctx.shared.get("journey.referral_sources") or []
    source: tuple[uuid.UUID, ReferralSourceKind] | None = (
        rng.choices(sources, weights=ctx.shared["journey.referral_source_weights"])[0]
        if sources
        else None
    )
    kind = source[1] if source else ReferralSourceKind.SELF
    if kind in (
        ReferralSourceKind.HEALTHCARE_PROVIDER,
        ReferralSourceKind.COURT,
        ReferralSourceKind.INSURER,
    ):
        channel = InquiryChannel.REFERRAL
    else:
        channel = rng.choices(
            list(InquiryChannel), weights=(0.34, 0.36, 0.0, 0.04, 0.12, 0.09, 0.05)
        )[0]
    live = channel in (InquiryChannel.PHONE, InquiryChannel.WALK_IN, InquiryChannel.CHAT)
    responded = asked + (
        timedelta(minutes=rng.randrange(0, 5))
        if live
        else timedelta(minutes=rng.randrange(10, 60 * 26))
    )
    admitted = patient.admitted_at
    # A call back before "now", and before the admission it led to.
    responded = min(responded, now, max(asked, (admitted or now) - timedelta(hours=2)))
    assessment: datetime | None = None
    closed: datetime | None = None
    reason: str | None = None
    if admitted is not None:
        outcome = InquiryOutcome.ADMITTED
        if admitted - asked > timedelta(hours=3):
            assessment = between(rng, responded, admitted - timedelta(hours=1))
        closed = admitted
    elif now - asked < timedelta(days=10):
        outcome = rng.choice((InquiryOutcome.PENDING, InquiryOutcome.SCHEDULED_ASSESSMENT))
        if outcome is InquiryOutcome.SCHEDULED_ASSESSMENT:
            # An upcoming intake appointment: the one kind of future date allowed here.
            assessment = at(now + timedelta(days=rng.randrange(1, 8)), rng)
    else:
        outcome = rng.choices(
            (
                InquiryOutcome.REFERRED_OUT,
                InquiryOutcome.NOT_A_FIT,
                InquiryOutcome.NO_RESPONSE,
                InquiryOutcome.DECLINED,
            ),
            weights=(0.25, 0.15, 0.35, 0.25),
        )[0]
        closed = min(asked + timedelta(days=rng.uniform(1, 21)), now)
        reason = {
            InquiryOutcome.REFERRED_OUT: "Needs a higher level of care than we offer.",
            InquiryOutcome.NOT_A_FIT: rng.choice(
                ("Out-of-network insurance, declined self-pay.", "Under 18: referred to CAMHS.")
            ),
            InquiryOutcome.NO_RESPONSE: "Three call-backs and an e-mail without reply.",
            InquiryOutcome.DECLINED: rng.choice(
                ("Chose a program closer to home.", "Not ready to start treatment.")
            ),
        }[outcome]
    by_family = rng.random() < 0.25
    insurance = rng.choice(INSURERS) if rng.random() < 0.8 else None
    inquiry_id = sink.add(
        Inquiry,
        id=new_id(rng),
        patient_id=patient.id,
        effective_at=asked,
        sensitivity=label,
        channel=channel,
        referral_source_id=source[0] if source else None,
        referral_detail=(
            f"Caller heard about us through: {kind.value.replace('_', ' ')}."
            if rng.random() < 0.5
            else None
        ),
        caller_name=f"{patient.family_name} family member" if by_family else None,
        caller_relationship=rng.choice(CALLERS) if by_family else None,
        spoke_with_id=staff_of(ctx, patient, StaffRole.FRONT_DESK, rng) if live else None,
        location_id=patient.location_id,
        reason_text=rng.choice(concern.reasons),
        reason_system=CodeSystem.SNOMED,
        reason_code=concern.snomed,
        reason_display=concern.display,
        presenting_concerns=[
            {"system": CodeSystem.SNOMED, "code": code, "display": text} if code else {"text": text}
            for code, text in rng.sample(concern.presenting, k=min(2, len(concern.presenting)))
        ],
        urgency=rng.choices(list(Urgency), weights=(0.55, 0.3, 0.12, 0.03))[0],
        level_of_care_requested=rng.choice(concern.levels) if rng.random() < 0.6 else None,
        insurance_mentioned=insurance,
        self_pay=insurance is None,
        outcome=outcome,
        outcome_reason=reason,
        inquiry_at=asked,
        first_response_at=responded,
        assessment_at=assessment,
        admitted_at=admitted,
        closed_at=closed,
    )
    if outcome is InquiryOutcome.REFERRED_OUT and closed is not None:
        _refer_out(ctx, patient, label, rng, sink, closed, inquiry_id=inquiry_id)
    elif channel is InquiryChannel.REFERRAL and admitted is not None and rng.random() < 0.5:
        org_ids = ctx.shared.get("journey.referrer_org_ids") or [None]
        sink.add(
            Referral,
            patient_id=patient.id,
            effective_at=asked,
            sensitivity=label,
            direction=ReferralDirection.INBOUND,
            status=ReferralStatus.COMPLETED,
            organization_id=rng.choice(org_ids),
            practitioner_name=rng.choice(("Dr. Ellen Marsh", "Sarah Quinn, LICSW", None)),
            service=f"{concern.program} program",
            reason_text=rng.choice(concern.reasons),
            reason_system=CodeSystem.SNOMED,
            reason_code=concern.snomed,
            reason_display=concern.display,
            inquiry_id=inquiry_id,
            sent_at=asked,
            responded_at=responded,
            appointment_at=assessment or admitted,
        )
    return inquiry_id


def _refer_out(
    ctx: DemoContext,
    patient: PatientSeed,
    label: Sensitivity,
    rng: random.Random,
    sink: RowSink,
    when: datetime,
    *,
    inquiry_id: uuid.UUID | None = None,
    admission_id: uuid.UUID | None = None,
) -> None:
    name, service, code, display = rng.choice(REFER_OUT)
    responded = min(when + timedelta(days=rng.uniform(0.5, 5)), ctx.now)
    accepted = rng.random() < 0.75
    sink.add(
        Referral,
        patient_id=patient.id,
        effective_at=when,
        sensitivity=label,
        direction=ReferralDirection.OUTBOUND,
        status=ReferralStatus.ACCEPTED if accepted else ReferralStatus.SENT,
        organization_name=name,
        service=service,
        service_type_system=CodeSystem.SNOMED if code else None,
        service_type_code=code,
        service_type_display=display,
        reason_text="Continuity of care after our program."
        if admission_id
        else "Needs care we do not provide.",
        requester_id=staff_of(ctx, patient, StaffRole.CARE_COORDINATOR, rng),
        inquiry_id=inquiry_id,
        admission_id=admission_id,
        sent_at=when,
        responded_at=responded if accepted else None,
        appointment_at=at(responded + timedelta(days=rng.randrange(2, 14)), rng)
        if accepted
        else None,
        notes="Records sent with signed release." if rng.random() < 0.5 else None,
    )


def _admission(
    ctx: DemoContext,
    patient: PatientSeed,
    concern: Concern,
    label: Sensitivity,
    inquiry_id: uuid.UUID,
    rng: random.Random,
    sink: RowSink,
) -> uuid.UUID:
    assert patient.admitted_at is not None
    team_program = ctx.care_teams.get(patient.care_team_id, {}).get("program")
    levels = {lc.value for lc in LevelOfCare}
    level = LevelOfCare(team_program) if team_program in levels else rng.choice(concern.levels)
    finished = patient.discharged_at is not None
    clinician = staff_of(
        ctx, patient, StaffRole.PHYSICIAN if concern.sud else StaffRole.THERAPIST, rng
    )
    return sink.add(
        Admission,
        id=new_id(rng),
        patient_id=patient.id,
        effective_at=patient.admitted_at,
        sensitivity=label,
        author_id=clinician,
        inquiry_id=inquiry_id,
        program=f"{concern.program} {level.value.replace('_', ' ').title()}",
        level_of_care=level,
        episode_type_system=EPISODE_TYPE_SYSTEM if concern.sud else None,
        episode_type_code="da" if concern.sud else None,
        episode_type_display="Drug and alcohol rehabilitation" if concern.sud else None,
        status=AdmissionStatus.FINISHED
        if finished
        else (AdmissionStatus.ON_HOLD if rng.random() < 0.04 else AdmissionStatus.ACTIVE),
        admitted_at=patient.admitted_at,
        ended_at=patient.discharged_at,
        expected_discharge_on=None
        if finished
        else (patient.admitted_at + timedelta(days=rng.choice((30, 45, 60, 90)))).date(),
        voluntary=rng.random() > 0.03,
        primary_clinician_id=clinician,
        care_team_id=patient.care_team_id,
        location_id=patient.location_id,
    )


def _discharge(
    ctx: DemoContext,
    patient: PatientSeed,
    concern: Concern,
    label: Sensitivity,
    admission_id: uuid.UUID,
    rng: random.Random,
    sink: RowSink,
) -> uuid.UUID:
    assert patient.discharged_at is not None
    if patient.stage is JourneyStage.ALUMNI:
        # Alumni programs take graduates: completed or stepped down.
        disposition, code, display, _ = rng.choices(DISPOSITIONS[:2], weights=(0.8, 0.2))[0]
    else:
        disposition, code, display, _ = rng.choices(
            DISPOSITIONS, weights=[w for *_, w in DISPOSITIONS]
        )[0]
    when = patient.discharged_at
    planned = disposition in (
        DischargeDisposition.COMPLETED_PROGRAM,
        DischargeDisposition.STEP_DOWN,
    )
    therapist = staff_of(ctx, patient, StaffRole.THERAPIST, rng)
    med, rxnorm, sig = rng.choice(MEDS_SUD if concern.sud else MEDS_MH)
    follow_up = at(when + timedelta(days=rng.randrange(3, 8)), rng)
    aftercare: dict[str, Any] = (
        {
            "appointments": [
                {"with": "Outpatient therapist", "at": follow_up.isoformat(), "kind": "therapy"},
                {
                    "with": "Prescriber",
                    "at": at(follow_up + timedelta(days=14), rng).isoformat(),
                    "kind": "medication management",
                },
            ],
            "medications": [{"name": med, "rxnorm": rxnorm, "sig": sig}],
            "supports": [
                {"kind": "peer support", "name": "SMART Recovery" if concern.sud else "NAMI"},
                {"kind": "crisis line", "name": "988 Suicide & Crisis Lifeline", "contact": "988"},
            ],
            "crisis_plan": "Call 988 or go to the nearest emergency department.",
        }
        if planned
        else {}
    )
    discharge_id = sink.add(
        Discharge,
        id=new_id(rng),
        patient_id=patient.id,
        effective_at=when,
        sensitivity=label,
        author_id=therapist,
        admission_id=admission_id,
        discharged_at=when,
        disposition=disposition,
        fhir_disposition_system=DISPOSITION_SYSTEM,
        fhir_disposition_code=code,
        fhir_disposition_display=display,
        step_down_level=LevelOfCare.OUTPATIENT
        if disposition is DischargeDisposition.STEP_DOWN
        else None,
        discharged_to="Home" if code == "home" else None,
        discharge_instructions=(
            "Continue medications as prescribed. Avoid alcohol and non-prescribed drugs. "
            "Keep your follow-up appointments; call us or 988 if symptoms return."
        )
        if planned
        else None,
        follow_up_plan=(
            f"Weekly outpatient therapy; first visit {follow_up:%b %d}. "
            "Alumni program invitation sent."
        )
        if planned
        else "Outreach call within 48 hours; offer re-admission.",
        aftercare_plan=aftercare,
        discharged_by_id=therapist,
    )
    if disposition in (
        DischargeDisposition.STEP_DOWN,
        DischargeDisposition.TRANSFERRED,
        DischargeDisposition.STEP_UP,
    ) or (patient.stage is JourneyStage.ALUMNI and rng.random() < 0.3):
        _refer_out(ctx, patient, label, rng, sink, when, admission_id=admission_id)
    return discharge_id
