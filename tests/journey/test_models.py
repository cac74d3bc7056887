"""Journey models on both databases: funnel, episode, discharge, referrals, alumni."""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.common.types import Code, CodeSystem, Sensitivity
from backend.demo.sink import RowSink
from backend.journey.models import (
    Admission,
    AdmissionStatus,
    AlumniCheckIn,
    AlumniEvent,
    AlumniEventAttendance,
    AlumniEventKind,
    AlumniMembership,
    AlumniProgram,
    AttendanceStatus,
    CheckInChannel,
    Discharge,
    DischargeDisposition,
    Inquiry,
    InquiryChannel,
    InquiryOutcome,
    LevelOfCare,
    MembershipStatus,
    RecoveryStatus,
    Referral,
    ReferralDirection,
    ReferralSource,
    ReferralSourceKind,
    ReferralStatus,
    Urgency,
)
from backend.patients.models import Patient
from tests.demo_world import staff_user

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _patient(session: Session) -> Patient:
    patient = Patient(given_name="Jordan", family_name="Lee")
    session.add(patient)
    session.flush()
    return patient


def _inquiry(patient: Patient, **values: object) -> Inquiry:
    defaults: dict[str, object] = {
        "patient_id": patient.id,
        "channel": InquiryChannel.PHONE,
        "inquiry_at": NOW - timedelta(days=30),
        "effective_at": NOW - timedelta(days=30),
    }
    defaults.update(values)
    return Inquiry(**defaults)


def test_funnel_inquiry_admission_discharge_round_trip(session: Session) -> None:
    sink = RowSink(random.Random(1), recorded_at=NOW)
    clinician = staff_user(sink, "Dr. Okafor")
    sink.flush(session.connection())
    patient = _patient(session)
    source = ReferralSource(
        kind=ReferralSourceKind.CAMPAIGN,
        name="Google Ads: IOP",
        campaign_code="GADS-IOP",
        utm_source="google",
        utm_medium="cpc",
    )
    session.add(source)
    session.flush()
    asked = NOW - timedelta(days=40)
    inquiry = _inquiry(
        patient,
        channel=InquiryChannel.WEB_FORM,
        referral_source_id=source.id,
        reason=Code(CodeSystem.SNOMED, "7200002", "Alcoholism"),
        reason_text="Drinking every night",
        presenting_concerns=[{"text": "Morning tremor"}],
        urgency=Urgency.URGENT,
        level_of_care_requested=LevelOfCare.INTENSIVE_OUTPATIENT,
        outcome=InquiryOutcome.ADMITTED,
        inquiry_at=asked,
        first_response_at=asked + timedelta(minutes=42),
        admitted_at=asked + timedelta(days=6),
        sensitivity=Sensitivity.PART2,
    )
    session.add(inquiry)
    session.flush()
    admission = Admission(
        patient_id=patient.id,
        inquiry_id=inquiry.id,
        program="Substance Use Recovery IOP",
        level_of_care=LevelOfCare.INTENSIVE_OUTPATIENT,
        admitted_at=asked + timedelta(days=6),
        primary_clinician_id=clinician,
    )
    session.add(admission)
    session.flush()
    discharge = Discharge(
        patient_id=patient.id,
        admission_id=admission.id,
        discharged_at=NOW - timedelta(days=2),
        disposition=DischargeDisposition.COMPLETED_PROGRAM,
        aftercare_plan={"appointments": [{"with": "Therapist", "kind": "therapy"}]},
        discharged_by_id=clinician,
    )
    session.add(discharge)
    session.flush()
    session.expire_all()

    got = session.scalars(
        select(Inquiry)
        .where(Inquiry.id == inquiry.id)
        .options(
            selectinload(Inquiry.referral_source),
            selectinload(Inquiry.admissions).selectinload(Admission.discharge),
        )
    ).one()
    assert got.referral_source is not None
    assert got.referral_source.campaign_code == "GADS-IOP"
    assert got.reason == Code(CodeSystem.SNOMED, "7200002", "Alcoholism")
    assert got.sensitivity is Sensitivity.PART2
    assert got.admitted_at is not None
    assert got.admitted_at - got.inquiry_at == timedelta(days=6)  # the funnel metric
    assert got.admitted_at.tzinfo is not None
    [episode] = got.admissions
    assert episode.status is AdmissionStatus.ACTIVE
    assert episode.discharge is not None
    assert episode.discharge.disposition is DischargeDisposition.COMPLETED_PROGRAM
    assert episode.discharge.aftercare_plan["appointments"][0]["kind"] == "therapy"


def test_lazy_relationships_refuse_to_load_implicitly(session: Session) -> None:
    patient = _patient(session)
    inquiry = _inquiry(patient)
    session.add(inquiry)
    session.flush()
    session.expire_all()
    loaded = session.get(Inquiry, inquiry.id)
    assert loaded is not None
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = loaded.admissions


def test_same_source_record_cannot_be_imported_twice(session: Session) -> None:
    patient = _patient(session)
    session.add(_inquiry(patient, source_system="crm", source_id="lead-42"))
    session.flush()
    session.add(_inquiry(patient, source_system="crm", source_id="lead-42"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_an_admission_has_one_discharge(session: Session) -> None:
    patient = _patient(session)
    admission = Admission(
        patient_id=patient.id,
        program="Adult Mental Health",
        level_of_care=LevelOfCare.OUTPATIENT,
        admitted_at=NOW - timedelta(days=60),
    )
    session.add(admission)
    session.flush()
    for _ in range(2):
        session.add(
            Discharge(
                patient_id=patient.id,
                admission_id=admission.id,
                discharged_at=NOW - timedelta(days=1),
                disposition=DischargeDisposition.LEFT_AGAINST_ADVICE,
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_stale_admission_update_is_refused(session: Session) -> None:
    patient = _patient(session)
    admission = Admission(
        patient_id=patient.id,
        program="Trauma Recovery",
        level_of_care=LevelOfCare.PARTIAL_HOSPITALIZATION,
        admitted_at=NOW - timedelta(days=10),
    )
    session.add(admission)
    session.flush()
    assert admission.version == 1
    # Someone else saves first: the row moves to version 2 behind this session's back.
    session.execute(
        update(Admission)
        .where(Admission.id == admission.id)
        .values(version=2, status=AdmissionStatus.ON_HOLD)
        .execution_options(synchronize_session=False)
    )
    admission.status = AdmissionStatus.FINISHED
    with pytest.raises(StaleDataError):
        session.flush()


@pytest.mark.parametrize(
    ("enum_type", "column"),
    [
        (InquiryChannel, "channel"),
        (InquiryOutcome, "outcome"),
        (Urgency, "urgency"),
        (LevelOfCare, "level_of_care_requested"),
    ],
)
def test_inquiry_enums_round_trip_by_value(
    session: Session, enum_type: type[enum.StrEnum], column: str
) -> None:
    patient = _patient(session)
    ids = []
    for member in enum_type:
        inquiry = _inquiry(patient, **{column: member})
        session.add(inquiry)
        ids.append((inquiry, member))
    session.flush()
    session.expire_all()
    table = Inquiry.__table__
    for inquiry, member in ids:
        raw = session.execute(select(table.c[column]).where(table.c.id == inquiry.id)).scalar_one()
        assert raw == member.value  # stored as the lowercase value, not the NAME
        assert getattr(session.get(Inquiry, inquiry.id), column) is member


def test_referrals_in_and_out(session: Session) -> None:
    patient = _patient(session)
    inbound = Referral(
        patient_id=patient.id,
        direction=ReferralDirection.INBOUND,
        status=ReferralStatus.COMPLETED,
        practitioner_name="Dr. Ellen Marsh",
        service="Intensive outpatient program",
        reason=Code(CodeSystem.SNOMED, "35489007", "Depressive disorder"),
        sent_at=NOW - timedelta(days=20),
    )
    outbound = Referral(
        patient_id=patient.id,
        direction=ReferralDirection.OUTBOUND,
        status=ReferralStatus.SENT,
        organization_name="McLean Hospital",
        service="Inpatient psychiatry",
        service_type=Code(CodeSystem.SNOMED, "183524004", "Referral to psychiatry service"),
        sent_at=NOW - timedelta(days=1),
    )
    session.add_all([inbound, outbound])
    session.flush()
    session.expire_all()
    rows = session.scalars(
        select(Referral).where(Referral.patient_id == patient.id).order_by(Referral.sent_at)
    ).all()
    assert [r.direction for r in rows] == [ReferralDirection.INBOUND, ReferralDirection.OUTBOUND]
    assert rows[1].service_type == Code(
        CodeSystem.SNOMED, "183524004", "Referral to psychiatry service"
    )
    assert rows[0].service_type is None  # no coding given: no code, not an empty one


def test_alumni_program_events_membership_and_check_ins(session: Session) -> None:
    sink = RowSink(random.Random(2), recorded_at=NOW)
    mentor = staff_user(sink, "Terrence Hall")
    sink.flush(session.connection())
    patient = _patient(session)
    program = AlumniProgram(name="Alumni Network", coordinator_id=mentor)
    session.add(program)
    session.flush()
    event = AlumniEvent(
        program_id=program.id,
        title="Monthly meeting",
        kind=AlumniEventKind.MEETING,
        starts_at=NOW - timedelta(days=3),
        ends_at=NOW - timedelta(days=3) + timedelta(hours=1),
        capacity=30,
    )
    membership = AlumniMembership(
        patient_id=patient.id,
        program_id=program.id,
        status=MembershipStatus.ACTIVE,
        joined_at=NOW - timedelta(days=90),
        mentor_id=mentor,
    )
    session.add_all([event, membership])
    session.flush()
    session.add_all(
        [
            AlumniEventAttendance(
                patient_id=patient.id,
                event_id=event.id,
                membership_id=membership.id,
                status=AttendanceStatus.ATTENDED,
            ),
            AlumniCheckIn(
                patient_id=patient.id,
                membership_id=membership.id,
                channel=CheckInChannel.PHONE,
                checked_in_at=NOW - timedelta(days=1),
                wellbeing_score=8,
                recovery_status=RecoveryStatus.STABLE,
                days_since_last_use=200,
                staff_id=mentor,
                sensitivity=Sensitivity.PART2,
            ),
        ]
    )
    session.flush()
    session.expire_all()
    got = session.scalars(
        select(AlumniProgram)
        .where(AlumniProgram.id == program.id)
        .options(selectinload(AlumniProgram.events).selectinload(AlumniEvent.attendances))
    ).one()
    assert [e.title for e in got.events] == ["Monthly meeting"]
    assert got.events[0].attendances[0].status is AttendanceStatus.ATTENDED
    member = session.scalars(
        select(AlumniMembership)
        .where(AlumniMembership.id == membership.id)
        .options(selectinload(AlumniMembership.check_ins))
    ).one()
    assert member.check_ins[0].wellbeing_score == 8
    assert member.check_ins[0].recovery_status is RecoveryStatus.STABLE


def test_one_attendance_per_patient_and_event(session: Session) -> None:
    patient = _patient(session)
    program = AlumniProgram(name="Alumni")
    session.add(program)
    session.flush()
    event = AlumniEvent(
        program_id=program.id,
        title="Walk",
        kind=AlumniEventKind.SOCIAL,
        starts_at=NOW,
    )
    session.add(event)
    session.flush()
    for _ in range(2):
        session.add(AlumniEventAttendance(patient_id=patient.id, event_id=event.id))
    with pytest.raises(IntegrityError):
        session.flush()


@pytest.mark.parametrize("score", [0, 11])
def test_wellbeing_score_is_one_to_ten(session: Session, score: int) -> None:
    patient = _patient(session)
    program = AlumniProgram(name="Alumni")
    session.add(program)
    session.flush()
    membership = AlumniMembership(patient_id=patient.id, program_id=program.id)
    session.add(membership)
    session.flush()
    session.add(
        AlumniCheckIn(
            patient_id=patient.id,
            membership_id=membership.id,
            channel=CheckInChannel.SMS,
            checked_in_at=NOW,
            wellbeing_score=score,
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_event_cannot_end_before_it_starts(session: Session) -> None:
    program = AlumniProgram(name="Alumni")
    session.add(program)
    session.flush()
    session.add(
        AlumniEvent(
            program_id=program.id,
            title="Backwards",
            kind=AlumniEventKind.WEBINAR,
            starts_at=NOW,
            ends_at=NOW - timedelta(hours=1),
        )
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_referral_source_kinds_fit_the_column() -> None:
    for enum_type in (ReferralSourceKind, InquiryOutcome, DischargeDisposition, LevelOfCare):
        for member in enum_type:
            assert len(member.value) <= 32
            assert member.value == member.value.lower()
