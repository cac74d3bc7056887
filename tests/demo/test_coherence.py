"""Demo data tells one story per patient: the concern they called about is the diagnosis
they are treated and billed for, and Part 2 labels follow it everywhere."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.billing.models import Charge
from backend.careplans.models import CarePlan
from backend.clinical.models import Condition, DiagnosticReport, Medication
from backend.common.types import Code, Sensitivity
from backend.db import make_engine
from backend.demo.journey_content import CONCERN_BY_KEY, Concern
from backend.demo.seed import seed_demo
from backend.forms.models import FormResponse
from backend.journey.models import Inquiry
from backend.migrations import upgrade_to_head
from backend.scheduling.models import Appointment, Encounter

TODAY = date(2026, 11, 1)
PATIENTS = 200
CONCERN_BY_SNOMED = {concern.snomed: concern for concern in CONCERN_BY_KEY.values()}
UDS_PANEL = "65750-2"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]
) -> Iterator[Engine]:
    url = fresh_database_url(request.param)
    upgrade_to_head(url)
    engine = make_engine(url)
    seed_demo(engine, patients_count=PATIENTS, seed=23, today=TODAY, secret_key="k" * 40)
    yield engine
    engine.dispose()


def _code_of(coded: Code | None) -> str | None:
    """The ``*_code`` column's value: a nullable composite reads back None when all three are."""
    return None if coded is None else coded.code


@pytest.fixture
def concerns(engine: Engine) -> dict[uuid.UUID, Concern]:
    """Each patient's concern, read back from the inquiry the journey wrote."""
    with Session(engine) as session:
        inquiries = session.scalars(select(Inquiry)).all()
    found: dict[uuid.UUID, Concern] = {}
    for inquiry in inquiries:
        reason_code = _code_of(inquiry.reason)
        assert reason_code is not None
        concern = CONCERN_BY_SNOMED[reason_code]
        assert inquiry.patient_id not in found, "one inquiry per demo patient"
        found[inquiry.patient_id] = concern
        part2 = Sensitivity.PART2 in inquiry.sensitivity
        assert part2 is concern.sud, (inquiry.patient_id, concern.key)
    assert len(found) == PATIENTS
    assert {c.key for c in found.values()} == set(CONCERN_BY_KEY), "every concern occurs"
    return found


def is_part2(sensitivity: Sensitivity) -> bool:
    return Sensitivity.PART2 in sensitivity


def test_primary_diagnosis_is_the_concern(
    engine: Engine, concerns: dict[uuid.UUID, Concern]
) -> None:
    with Session(engine) as session:
        conditions = session.scalars(select(Condition)).all()
    primary: dict[uuid.UUID, Condition] = {}
    by_patient: dict[uuid.UUID, list[Condition]] = defaultdict(list)
    for condition in conditions:
        by_patient[condition.patient_id].append(condition)
        if condition.rank == 1:
            assert condition.patient_id not in primary
            primary[condition.patient_id] = condition
    assert primary, "admitted patients have a principal diagnosis"
    assert set(by_patient) == set(primary)
    for patient_id, condition in primary.items():
        concern = concerns[patient_id]
        assert condition.code.code == concern.diagnosis.icd10, concern.key
        assert is_part2(condition.sensitivity) is concern.sud
        # A substance-use comorbidity comes only with a substance-use concern.
        if not concern.sud:
            assert not any(is_part2(c.sensitivity) for c in by_patient[patient_id])


def test_visits_and_charges_carry_the_concerns_diagnosis(
    engine: Engine, concerns: dict[uuid.UUID, Concern]
) -> None:
    with Session(engine) as session:
        appointments = session.scalars(select(Appointment)).all()
        encounters = session.scalars(select(Encounter)).all()
        charges = session.scalars(select(Charge)).all()
    assert appointments
    assert encounters
    assert charges
    records: list[Appointment | Encounter] = [*appointments, *encounters]
    for record in records:
        concern = concerns[record.patient_id]
        assert _code_of(record.reason) == concern.diagnosis.icd10, concern.key
        assert is_part2(record.sensitivity) is concern.sud
    for charge in charges:
        concern = concerns[charge.patient_id]
        assert charge.diagnosis_codes[:1] == [concern.diagnosis.icd10], concern.key
        assert is_part2(charge.sensitivity) is concern.sud


def test_part2_records_belong_to_substance_use_patients(
    engine: Engine, concerns: dict[uuid.UUID, Concern]
) -> None:
    with Session(engine) as session:
        medications = session.scalars(select(Medication)).all()
        reports = session.scalars(select(DiagnosticReport)).all()
        plans = session.scalars(select(CarePlan)).all()
        responses = session.scalars(select(FormResponse)).all()
    for medication in medications:
        if is_part2(medication.sensitivity):
            assert concerns[medication.patient_id].sud
    screened = {r.patient_id for r in reports if r.code.code == UDS_PANEL}
    assert screened, "some substance-use patients have urine drug screens"
    assert all(concerns[patient_id].sud for patient_id in screened)
    for plan in plans:
        concern = concerns[plan.patient_id]
        if plan.title != "Your first six months after treatment":  # aftercare: no SUD detail
            assert is_part2(plan.sensitivity) is concern.sud, concern.key
        else:
            assert not concern.sud or not is_part2(plan.sensitivity)
    for response in responses:
        concern = concerns[response.patient_id]
        assert is_part2(response.sensitivity) is concern.sud
        chosen = (response.answers or {}).get("concerns")
        if chosen:
            assert chosen[0] == concern.intake, concern.key
