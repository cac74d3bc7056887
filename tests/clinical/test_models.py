"""The clinical models on both databases: insert, read back, relationships, constraints."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.accounts.models import StaffUser
from backend.clinical.common import DICOM_DCM
from backend.clinical.models import (
    Allergy,
    AllergyCategory,
    AllergyCriticality,
    AllergyType,
    Assessment,
    AssessmentSource,
    ClinicalNote,
    Condition,
    ConditionCategory,
    ConditionClinicalStatus,
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Instrument,
    Interpretation,
    Medication,
    MedicationStatus,
    NoteKind,
    NoteStatus,
    Observation,
    ObservationCategory,
    Procedure,
    ReportCategory,
    SeverityBand,
    SocialDomain,
    SocialFactor,
    SocialFactorSource,
    SocialRisk,
)
from backend.clinical.scoring import response_items, score_phq9
from backend.common.types import Code, CodeSystem, Sensitivity
from backend.patients.models import Patient
from tests.tables import table_of

NOW = datetime(2025, 3, 14, 15, 30, tzinfo=UTC)


@dataclass
class Chart:
    patient: Patient
    doctor: StaffUser


@pytest.fixture
def chart(session: Session) -> Chart:
    tag = uuid.uuid4().hex[:8]
    doctor = StaffUser(username=f"dr-{tag}", display_name="Dr. Test", credentials="MD")
    patient = Patient(given_name="Ada", family_name="Quinn", birth_date=date(1988, 5, 2))
    session.add_all([doctor, patient])
    session.flush()
    return Chart(patient, doctor)


def test_clinical_note_amendment_chain_and_psychotherapy_label(
    session: Session, chart: Chart
) -> None:
    original = ClinicalNote(
        patient_id=chart.patient.id,
        effective_at=NOW,
        author_id=chart.doctor.id,
        kind=NoteKind.PSYCHOTHERAPY,
        status=NoteStatus.SIGNED,
        doc_type=Code(CodeSystem.LOINC, "34786-4", "Mental health Note"),
        title="Session 3",
        body="Process notes.",
        signed_at=NOW,
        signed_by_id=chart.doctor.id,
        sensitivity=Sensitivity.PSYCHOTHERAPY | Sensitivity.PART2,
    )
    session.add(original)
    session.flush()
    amendment = ClinicalNote(
        patient_id=chart.patient.id,
        effective_at=NOW,
        kind=NoteKind.PSYCHOTHERAPY,
        status=NoteStatus.SIGNED,
        doc_type=original.doc_type,
        title="Session 3 (amended)",
        body="Corrected process notes.",
        amended_from_id=original.id,
        amendment_reason="Wrong date of the event",
    )
    original.status = NoteStatus.AMENDED
    session.add(amendment)
    session.flush()
    session.expire_all()

    loaded = session.scalars(
        select(ClinicalNote)
        .where(ClinicalNote.id == amendment.id)
        .options(selectinload(ClinicalNote.amended_from))
    ).one()
    assert loaded.amended_from is not None
    assert loaded.amended_from.status is NoteStatus.AMENDED
    assert loaded.amended_from.sensitivity == Sensitivity.PSYCHOTHERAPY | Sensitivity.PART2
    assert loaded.doc_type == Code(CodeSystem.LOINC, "34786-4", "Mental health Note")
    assert loaded.content_type == "text/plain"
    assert loaded.effective_at == NOW


def test_assessment_round_trips_items_score_and_flags(session: Session, chart: Chart) -> None:
    answers = [2, 2, 2, 2, 1, 1, 1, 0, 1]
    result = score_phq9(answers)
    session.add(
        Assessment(
            patient_id=chart.patient.id,
            effective_at=NOW,
            instrument=Instrument.PHQ9,
            code=Code(CodeSystem.LOINC, "44261-6", "PHQ-9 total score"),
            items=response_items(Instrument.PHQ9, answers),
            total_score=result.total,
            severity=result.severity,
            positive_screen=result.positive,
            suicide_risk=result.suicide_risk,
            source=AssessmentSource.PATIENT_REPORTED,
        )
    )
    session.flush()
    session.expire_all()
    got = session.scalars(
        select(Assessment).where(
            Assessment.patient_id == chart.patient.id, Assessment.suicide_risk.is_(True)
        )
    ).one()
    assert got.instrument is Instrument.PHQ9
    assert got.severity is SeverityBand.MODERATE
    assert got.total_score == 12
    assert got.items[8] == {
        "linkId": "44260-8",
        "text": "Thoughts that you would be better off dead, or of hurting yourself",
        "answer": 1,
    }
    assert got.source is AssessmentSource.PATIENT_REPORTED
    assert got.code.code == "44261-6"


def test_condition_medication_allergy_round_trip(session: Session, chart: Chart) -> None:
    oud = Condition(
        patient_id=chart.patient.id,
        effective_at=NOW,
        code=Code(CodeSystem.ICD10, "F11.20", "Opioid dependence, uncomplicated"),
        alt_code=Code(CodeSystem.SNOMED, "75544000", "Opioid dependence"),
        clinical_status=ConditionClinicalStatus.REMISSION,
        category=ConditionCategory.PROBLEM_LIST_ITEM,
        onset_text="early adulthood",
        sensitivity=Sensitivity.PART2,
    )
    session.add(oud)
    session.flush()
    session.add_all(
        [
            Medication(
                patient_id=chart.patient.id,
                effective_at=NOW,
                code=Code(CodeSystem.RXNORM, "1010604", "buprenorphine 8 MG / naloxone 2 MG"),
                status=MedicationStatus.ACTIVE,
                dose_quantity=Decimal("8"),
                dose_unit="mg",
                route="sublingual",
                frequency="once daily",
                prescriber_id=chart.doctor.id,
                dea_schedule="CIII",
                quantity=Decimal("14"),
                refills_allowed=1,
                refills_remaining=1,
                last_filled_on=date(2025, 3, 10),
                refill_due_on=date(2025, 3, 24),
                reason=oud.code,
                reason_condition_id=oud.id,
                sensitivity=Sensitivity.PART2,
            ),
            Allergy(
                patient_id=chart.patient.id,
                code=Code(CodeSystem.RXNORM, "7980", "penicillin G"),
                allergy_type=AllergyType.ALLERGY,
                category=AllergyCategory.MEDICATION,
                criticality=AllergyCriticality.HIGH,
                reaction_manifestation="Hives",
                reaction_manifestation_code=Code(CodeSystem.SNOMED, "126485001", "Urticaria"),
            ),
        ]
    )
    session.flush()
    session.expire_all()

    due = session.scalars(
        select(Medication)
        .where(Medication.refill_due_on <= date(2025, 3, 28))
        .options(selectinload(Medication.reason_condition))
    ).one()
    assert due.reason_condition is not None
    assert due.reason_condition.alt_code == Code(CodeSystem.SNOMED, "75544000", "Opioid dependence")
    assert due.reason_condition.clinical_status is ConditionClinicalStatus.REMISSION
    assert due.dose_quantity == Decimal("8")
    assert due.reason == Code(CodeSystem.ICD10, "F11.20", "Opioid dependence, uncomplicated")
    assert due.sensitivity == Sensitivity.PART2
    allergy = session.scalars(select(Allergy).where(Allergy.patient_id == chart.patient.id)).one()
    assert allergy.criticality is AllergyCriticality.HIGH
    assert allergy.reaction_manifestation_code is not None
    assert allergy.reaction_manifestation_code.code == "126485001"


def test_report_groups_observations_and_imaging(session: Session, chart: Chart) -> None:
    report = DiagnosticReport(
        patient_id=chart.patient.id,
        effective_at=NOW,
        category=ReportCategory.LAB,
        code=Code(CodeSystem.LOINC, "24323-8", "Comprehensive metabolic 2000 panel"),
        issued_at=NOW + timedelta(hours=6),
        ordered_by_id=chart.doctor.id,
        performer_name="Quest Diagnostics",
    )
    session.add(report)
    session.flush()
    session.add_all(
        [
            Observation(
                patient_id=chart.patient.id,
                category=ObservationCategory.LABORATORY,
                code=Code(CodeSystem.LOINC, "1742-6", "ALT"),
                value_quantity=Decimal("88.0000"),
                value_unit="U/L",
                reference_low=Decimal(7),
                reference_high=Decimal(56),
                interpretation=Interpretation.HIGH,
                is_abnormal=True,
                specimen="serum",
                diagnostic_report_id=report.id,
            ),
            Observation(
                patient_id=chart.patient.id,
                category=ObservationCategory.LABORATORY,
                code=Code(CodeSystem.LOINC, "19295-5", "Opiates screen"),
                value_code=Code(CodeSystem.LOINC, "LA6577-6", "Negative"),
                interpretation=Interpretation.NORMAL,
                diagnostic_report_id=report.id,
            ),
            Observation(
                patient_id=chart.patient.id,
                category=ObservationCategory.VITAL_SIGNS,
                code=Code(CodeSystem.LOINC, "85354-9", "Blood pressure panel"),
                components=[{"code": "8480-6", "value": 142, "unit": "mm[Hg]"}],
            ),
            ImagingStudy(
                patient_id=chart.patient.id,
                modality=Code(DICOM_DCM, "MR", "Magnetic Resonance"),
                procedure=Code(CodeSystem.CPT, "70551", "MRI brain without contrast"),
                number_of_series=4,
                number_of_instances=300,
                diagnostic_report_id=report.id,
            ),
        ]
    )
    session.flush()
    session.expire_all()

    got = session.scalars(
        select(DiagnosticReport)
        .where(DiagnosticReport.id == report.id)
        .options(
            selectinload(DiagnosticReport.results), selectinload(DiagnosticReport.imaging_studies)
        )
    ).one()
    by_code = {o.code.code: o for o in got.results}
    assert set(by_code) == {"1742-6", "19295-5"}
    assert by_code["1742-6"].value_quantity == Decimal("88")
    assert by_code["1742-6"].interpretation is Interpretation.HIGH
    assert by_code["19295-5"].value_code == Code(CodeSystem.LOINC, "LA6577-6", "Negative")
    assert got.imaging_studies[0].modality.code == "MR"
    assert got.imaging_studies[0].procedure is not None
    vitals = session.scalars(
        select(Observation).where(Observation.category == ObservationCategory.VITAL_SIGNS)
    ).one()
    assert vitals.components == [{"code": "8480-6", "value": 142, "unit": "mm[Hg]"}]
    assert vitals.diagnostic_report_id is None


def test_procedure_immunization_and_social_factor(session: Session, chart: Chart) -> None:
    session.add_all(
        [
            Procedure(
                patient_id=chart.patient.id,
                effective_at=NOW,
                code=Code(CodeSystem.CPT, "90870", "Electroconvulsive therapy"),
                performed_end=NOW + timedelta(minutes=40),
            ),
            Immunization(
                patient_id=chart.patient.id,
                effective_at=NOW,
                vaccine=Code(CodeSystem.CVX, "150", "influenza, quadrivalent"),
                dose_quantity=Decimal("0.5"),
                dose_unit="mL",
            ),
            SocialFactor(
                patient_id=chart.patient.id,
                domain=SocialDomain.HOUSING,
                risk=SocialRisk.HIGH_RISK,
                code=Code(CodeSystem.LOINC, "71802-3", "Housing status"),
                value_text="I do not have housing",
                source=SocialFactorSource.STAFF_OBSERVED,
                screened_at=NOW,
            ),
        ]
    )
    session.flush()
    session.expire_all()
    need = session.scalars(
        select(SocialFactor).where(
            SocialFactor.domain == SocialDomain.HOUSING, SocialFactor.risk == SocialRisk.HIGH_RISK
        )
    ).one()
    assert need.source is SocialFactorSource.STAFF_OBSERVED
    assert need.screened_at == NOW
    assert need.resolved_at is None
    proc = session.scalars(select(Procedure).where(Procedure.patient_id == chart.patient.id)).one()
    assert proc.performed_end == NOW + timedelta(minutes=40)
    shot = session.scalars(select(Immunization)).one()
    assert (shot.vaccine.system, shot.primary_source) == (CodeSystem.CVX, True)


def test_same_source_record_twice_is_rejected(session: Session, chart: Chart) -> None:
    for _ in range(2):
        session.add(
            Condition(
                patient_id=chart.patient.id,
                code=Code(CodeSystem.ICD10, "F41.1", "Generalized anxiety disorder"),
                source_system="ehr-epic",
                source_id="cond-123",
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_stale_medication_update_is_refused(session: Session, chart: Chart) -> None:
    med = Medication(
        patient_id=chart.patient.id,
        code=Code(CodeSystem.RXNORM, "312941", "sertraline 50 MG Oral Tablet"),
    )
    session.add(med)
    session.flush()
    assert med.version == 1
    med.status = MedicationStatus.ON_HOLD
    session.flush()
    assert med.version == 2
    # Someone else saved in between: our copy still thinks the row is at version 2.
    table = table_of(Medication)
    session.execute(table.update().where(table.c.id == med.id).values(version=3))
    med.status = MedicationStatus.STOPPED
    with pytest.raises(StaleDataError):
        session.flush()


@pytest.mark.parametrize(
    "member",
    [*NoteKind, *MedicationStatus, *ConditionClinicalStatus, *SeverityBand, *SocialRisk],
)
def test_enum_values_round_trip_and_fit_the_column(member: enum.StrEnum) -> None:
    value = member.value
    assert value == value.lower()
    assert len(value) <= 32
    assert type(member)(value) is member


def test_every_enum_member_is_stored_by_value(session: Session, chart: Chart) -> None:
    for status in ConditionClinicalStatus:
        session.add(
            Condition(
                patient_id=chart.patient.id,
                code=Code(CodeSystem.ICD10, "F32.1", "MDD"),
                clinical_status=status,
            )
        )
    session.flush()
    session.expire_all()
    stored = session.scalars(
        select(Condition.__table__.c.clinical_status).where(
            Condition.patient_id == chart.patient.id
        )
    ).all()
    assert sorted(stored) == sorted(s.value for s in ConditionClinicalStatus)
    loaded = session.scalars(select(Condition).where(Condition.patient_id == chart.patient.id))
    assert {c.clinical_status for c in loaded} == set(ConditionClinicalStatus)
