"""Records of the journey, results, billing, forms, alumni and feedback categories for
the API tests' clinic: ``count`` of each per patient, dated so each category sorts in a
known place on the timeline (day ``n`` of its own month of 2024)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from backend.billing.models import (
    Charge,
    Invoice,
    PayerKind,
    Payment,
    PaymentMethod,
    PriorAuthorization,
)
from backend.clinical.results import (
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Procedure,
    SocialDomain,
    SocialFactor,
)
from backend.common.types import Code, LevelOfCare
from backend.engagement.enums import CommunicationChannel
from backend.engagement.feedback import (
    Review,
    ReviewKind,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
)
from backend.forms.models import FormDefinition, FormResponse
from backend.journey.models import (
    Admission,
    AlumniCheckIn,
    AlumniEvent,
    AlumniEventAttendance,
    AlumniEventKind,
    AlumniMembership,
    AlumniProgram,
    CheckInChannel,
    Discharge,
    DischargeDisposition,
    Inquiry,
    InquiryChannel,
    Referral,
    ReferralDirection,
)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Shared:
    """Reference rows every patient's records point at."""

    definition_id: uuid.UUID
    program_id: uuid.UUID


def shared_rows(tag: str) -> tuple[Shared, list[Any]]:
    definition = FormDefinition(
        id=uuid.uuid4(),
        key=f"intake-{tag}",
        form_version=3,
        title="Intake",
        schema={"steps": []},
    )
    program = AlumniProgram(id=uuid.uuid4(), name=f"Alumni {tag}")
    return Shared(definition.id, program.id), [definition, program]


def when(month: int, n: int) -> datetime:
    return datetime(2024, month, 1, 12, tzinfo=UTC) + timedelta(days=n)


def journey_records(
    patient_id: uuid.UUID, n: int, shared: Shared, coverage_id: uuid.UUID
) -> list[Any]:
    """Record ``n`` of every category below, parents before children (flush order)."""
    p = patient_id
    admission = Admission(
        id=uuid.uuid4(),
        patient_id=p,
        program=f"Program {n}",
        level_of_care=LevelOfCare.INTENSIVE_OUTPATIENT,
        admitted_at=when(2, n),
        effective_at=when(2, n),
        notes="Admitted after assessment.",
    )
    membership = AlumniMembership(
        id=uuid.uuid4(), patient_id=p, program_id=shared.program_id, effective_at=when(12, n)
    )
    event = AlumniEvent(
        id=uuid.uuid4(),
        program_id=shared.program_id,
        title=f"Meetup {n}",
        kind=AlumniEventKind.MEETING,
        starts_at=when(12, n),
    )
    invitation = SurveyInvitation(
        id=uuid.uuid4(),
        patient_id=p,
        survey_kind=SurveyKind.DISCHARGE,
        token_hash=uuid.uuid4().hex + uuid.uuid4().hex,
        channel=CommunicationChannel.EMAIL,
        expires_at=when(11, n + 30),
        effective_at=when(11, n),
    )
    return [
        Inquiry(
            patient_id=p,
            channel=InquiryChannel.PHONE,
            inquiry_at=when(1, n),
            effective_at=when(1, n),
            reason_text="Low mood for months",
            reason=Code(SNOMED, "35489007", f"Inquiry {n}"),
        ),
        admission,
        Discharge(
            patient_id=p,
            admission_id=admission.id,
            discharged_at=when(3, n),
            effective_at=when(3, n),
            disposition=DischargeDisposition.COMPLETED_PROGRAM,
            discharge_instructions="Keep weekly sessions.",
        ),
        Referral(
            patient_id=p,
            direction=ReferralDirection.OUTBOUND,
            service=f"Referral {n}",
            effective_at=when(4, n),
            reason_text="Needs family therapy",
        ),
        ImagingStudy(
            patient_id=p,
            modality=Code("http://dicom.nema.org/resources/ontology/DCM", "MR", "MRI"),
            description=f"Imaging {n}",
            effective_at=when(5, n),
        ),
        Procedure(
            patient_id=p,
            code=Code(SNOMED, "313019003", f"Procedure {n}"),
            effective_at=when(5, n + 1),
        ),
        Immunization(
            patient_id=p,
            vaccine=Code("http://hl7.org/fhir/sid/cvx", "140", f"Vaccine {n}"),
            effective_at=when(6, n),
        ),
        DiagnosticReport(
            patient_id=p, code=Code(LOINC, "24323-8", f"Report {n}"), effective_at=when(6, n + 1)
        ),
        SocialFactor(
            patient_id=p,
            domain=SocialDomain.HOUSING,
            code=Code(LOINC, "71802-3", f"Housing {n}"),
            effective_at=when(7, n),
        ),
        PriorAuthorization(
            patient_id=p,
            coverage_id=coverage_id,
            service=Code("http://www.ama-assn.org/go/cpt", "90837", f"Authorization {n}"),
            units_approved=12,
            effective_at=when(7, n + 1),
        ),
        Charge(
            patient_id=p,
            code=Code("http://www.ama-assn.org/go/cpt", "90837", f"Charge {n}"),
            unit_price=Decimal("150.00"),
            amount=Decimal("150.00"),
            service_date=date(2024, 8, 1) + timedelta(days=n),
            effective_at=when(8, n),
            diagnosis_codes=["F32.1"],
        ),
        Invoice(patient_id=p, number=f"INV-{uuid.uuid4().hex[:12]}", effective_at=when(8, n + 1)),
        Payment(
            patient_id=p,
            payer_kind=PayerKind.PATIENT,
            method=PaymentMethod.CARD,
            amount=Decimal("25.00"),
            received_at=when(9, n),
        ),
        FormResponse(
            patient_id=p,
            definition_id=shared.definition_id,
            answers={"mood": "low", "sleep_hours": 5},
            effective_at=when(10, n),
        ),
        invitation,
        SurveyResponse(
            patient_id=p, invitation_id=invitation.id, nps=9, submitted_at=when(11, n + 1)
        ),
        membership,
        event,
        AlumniCheckIn(
            patient_id=p,
            membership_id=membership.id,
            channel=CheckInChannel.PHONE,
            checked_in_at=when(12, n + 1),
            wellbeing_score=8,
        ),
        AlumniEventAttendance(
            patient_id=p,
            event_id=event.id,
            membership_id=membership.id,
            effective_at=when(12, n + 2),
        ),
        Review(
            patient_id=p,
            kind=ReviewKind.TESTIMONIAL,
            title=f"Review {n}",
            rating=5,
            effective_at=when(10, n + 1),
        ),
    ]
