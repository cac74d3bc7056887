"""Clinical use cases for every transport. Reads go through
:func:`backend.access.listing.list_patient_records` (scope, Part 2 and psychotherapy
rules, field masks) and are noted for the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.clinical.models import Allergy, Assessment, ClinicalNote, Condition, Medication
from backend.clinical.records import (
    AllergyView,
    AssessmentView,
    ClinicalNoteView,
    ConditionView,
    MedicationView,
    ObservationView,
)
from backend.clinical.results import Observation, ObservationCategory


def list_conditions(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[ConditionView]] | None:
    """Each patient's conditions, newest first; None when diagnoses are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Condition,
        view=ConditionView,
        patient_ids=patient_ids,
        order_by=(Condition.effective_at.desc(), Condition.id),
        log=log,
        now=now,
    )


def list_medications(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[MedicationView]] | None:
    """Each patient's medications, newest first; None when medications are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Medication,
        view=MedicationView,
        patient_ids=patient_ids,
        order_by=(Medication.effective_at.desc(), Medication.id),
        log=log,
        now=now,
    )


def list_allergies(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[AllergyView]] | None:
    """Each patient's allergies and intolerances; None when allergies are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Allergy,
        view=AllergyView,
        patient_ids=patient_ids,
        order_by=(Allergy.effective_at.desc(), Allergy.id),
        log=log,
        now=now,
    )


def list_labs(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[ObservationView]] | None:
    """Each patient's laboratory results, newest first; None when labs are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Observation,
        view=ObservationView,
        patient_ids=patient_ids,
        order_by=(Observation.effective_at.desc(), Observation.id),
        where=[Observation.category == ObservationCategory.LABORATORY],
        log=log,
        now=now,
    )


def list_clinical_notes(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[ClinicalNoteView]] | None:
    """Each patient's notes, newest first, psychotherapy notes only for their author and
    the treating therapist; None when notes are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=ClinicalNote,
        view=ClinicalNoteView,
        patient_ids=patient_ids,
        order_by=(ClinicalNote.effective_at.desc(), ClinicalNote.id),
        log=log,
        now=now,
    )


def list_assessments(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[AssessmentView]] | None:
    """Each patient's completed instruments, newest first; None when withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Assessment,
        view=AssessmentView,
        patient_ids=patient_ids,
        order_by=(Assessment.effective_at.desc(), Assessment.id),
        log=log,
        now=now,
    )
