"""A chart's documentation: clinical notes, social-needs screens, and rare records (a
head scan, ECT/TMS, a flu shot)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from backend.accounts.models import StaffRole
from backend.clinical import codes
from backend.clinical.models import (
    DICOM_DCM,
    ClinicalNote,
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    NoteKind,
    NoteStatus,
    Procedure,
    ReportCategory,
)
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.clinical.records import add_social

if TYPE_CHECKING:
    from backend.demo.clinical.chart import Chart


def notes(chart: Chart) -> None:
    rng = chart.rng
    names = ", ".join(codes.CONDITIONS[k].icd10_display for k in chart.keys)
    part2 = Sensitivity.PART2 if chart.has_sud else Sensitivity.NONE
    first = NoteKind.INTAKE if rng.random() < 0.5 else NoteKind.ASSESSMENT
    _note(
        chart, first, 0.0, chart.physician, part2, "Psychiatric diagnostic evaluation",
        f"Reason for admission: {names}. History reviewed; risk assessment completed. "
        f"Plan: medication management, individual therapy, weekly measurement-based care.",
    )  # fmt: skip
    if (chart.end - chart.start).days >= 7:
        if rng.random() < 0.45:
            _note(
                chart, NoteKind.PSYCHOTHERAPY, 0.5, chart.therapist,
                part2 | Sensitivity.PSYCHOTHERAPY, "Psychotherapy session",
                "Session focused on cognitive restructuring of core beliefs and trauma "
                "processing. Therapist impressions and hypotheses recorded for treatment "
                "planning; not part of the designated record set.",
            )  # fmt: skip
        else:
            _note(
                chart, NoteKind.PROGRESS, 0.5, chart.therapist, part2,
                "Individual therapy progress",
                "Patient engaged; reports improved sleep and mood. Practised coping skills "
                "from last session. Safety plan reviewed. Continue current plan.",
            )  # fmt: skip
    if rng.random() < 0.1:
        _note(
            chart, NoteKind.PHONE, 0.7, chart.nurse, part2, "Phone call: medication question",
            "Patient called about a missed dose; advised to resume the usual schedule.",
        )  # fmt: skip
    if chart.patient.discharged_at is not None:
        _note(
            chart, NoteKind.DISCHARGE_SUMMARY, 1.0, chart.physician, part2, "Discharge summary",
            f"Completed the program. Diagnoses: {names}. Symptoms improved on measurement "
            f"(PHQ-9, GAD-7). Discharged to aftercare with follow-up in 1-2 weeks.",
        )  # fmt: skip


def _note(
    chart: Chart,
    kind: NoteKind,
    fraction: float,
    author: uuid.UUID,
    sensitivity: Sensitivity,
    title: str,
    body: str,
) -> None:
    when, encounter, provider = chart.moment(fraction)
    author = author if kind in (NoteKind.PSYCHOTHERAPY, NoteKind.PHONE) else provider or author
    # Notes of the last two days may still be waiting for a signature.
    draft = chart.ctx.now - when < timedelta(days=2) and chart.rng.random() < 0.5
    code, display = codes.NOTE_TYPES[kind]
    signed = min(when + timedelta(hours=chart.rng.randint(1, 20)), chart.ctx.now)
    chart.sink.add(
        ClinicalNote,
        patient_id=chart.patient.id,
        effective_at=when,
        author_id=author,
        sensitivity=sensitivity,
        encounter_id=encounter,
        kind=kind,
        status=NoteStatus.DRAFT if draft else NoteStatus.SIGNED,
        doc_type_system=CodeSystem.LOINC,
        doc_type_code=code,
        doc_type_display=display,
        title=title,
        body=body,
        period_start=when,
        period_end=when + timedelta(minutes=50 if kind is NoteKind.PSYCHOTHERAPY else 30),
        signed_at=None if draft else signed,
        signed_by_id=None if draft else author,
    )


def social(chart: Chart) -> None:
    count = chart.rng.choices((2, 3, 4), weights=(70, 24, 6))[0]
    when, encounter, _ = chart.moment(0)
    staff = chart.ctx.team_member(chart.patient, StaffRole.CARE_COORDINATOR, chart.rng)
    for domain in chart.rng.sample(list(codes.SDOH), count):
        add_social(chart.sink, chart.patient, chart.rng, domain, when, staff, encounter)


def extras(chart: Chart) -> None:
    """Rare records: a head scan, ECT/TMS, a flu shot."""
    rng = chart.rng
    roll = rng.random()
    if roll < 0.08:
        _imaging(chart)
    elif roll < 0.10:
        when, encounter, _ = chart.moment(0.5)
        cpt, display = rng.choice(codes.PROCEDURES)
        chart.sink.add(
            Procedure,
            patient_id=chart.patient.id,
            effective_at=when,
            author_id=chart.physician,
            encounter_id=encounter,
            code_system=CodeSystem.CPT,
            code_code=cpt,
            code_display=display,
            performed_end=when + timedelta(minutes=40),
            performer_id=chart.physician,
            location_id=chart.patient.location_id,
            reason_condition_id=chart.condition_ids.get("mdd"),
        )
    if rng.random() < 0.08:
        when, encounter, _ = chart.moment(0.5)
        chart.sink.add(
            Immunization,
            patient_id=chart.patient.id,
            effective_at=when,
            author_id=chart.nurse,
            encounter_id=encounter,
            vaccine_system=CodeSystem.CVX,
            vaccine_code=codes.FLU_VACCINE[0],
            vaccine_display=codes.FLU_VACCINE[1],
            lot_number=f"FL{rng.randrange(10**6):06d}",
            site="left deltoid",
            route="intramuscular",
            dose_quantity=Decimal("0.5"),
            dose_unit="mL",
            performer_id=chart.nurse,
            location_id=chart.patient.location_id,
        )


def _imaging(chart: Chart) -> None:
    rng = chart.rng
    cpt, cpt_text, loinc, loinc_text, modality, modality_text, site, site_text = rng.choice(
        codes.IMAGING
    )
    when, encounter, _ = chart.moment(0.2)
    issued = min(when + timedelta(hours=rng.randint(4, 48)), chart.ctx.now)
    report = chart.sink.add(
        DiagnosticReport,
        patient_id=chart.patient.id,
        effective_at=when,
        encounter_id=encounter,
        category=ReportCategory.IMAGING,
        code_system=CodeSystem.LOINC,
        code_code=loinc,
        code_display=loinc_text,
        conclusion="No acute intracranial abnormality.",
        issued_at=issued,
        performer_name="Boston Imaging Associates",
        ordered_by_id=chart.physician,
    )
    chart.sink.add(
        ImagingStudy,
        patient_id=chart.patient.id,
        effective_at=when,
        encounter_id=encounter,
        study_uid=f"2.25.{rng.getrandbits(96)}",
        modality_system=DICOM_DCM,
        modality_code=modality,
        modality_display=modality_text,
        procedure_system=CodeSystem.CPT,
        procedure_code=cpt,
        procedure_display=cpt_text,
        body_site_system=CodeSystem.SNOMED,
        body_site_code=site,
        body_site_display=site_text,
        description=cpt_text,
        reason_text="New-onset headaches and cognitive complaints",
        number_of_series=rng.randint(3, 8),
        number_of_instances=rng.randint(120, 900),
        started_at=when,
        referrer_id=chart.physician,
        performer_name="Boston Imaging Associates",
        diagnostic_report_id=report,
    )
