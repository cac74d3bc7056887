"""Demo clinical charts: problems, medications, allergies, PHQ-9/GAD-7 series, labs,
vitals, notes, social needs, the occasional scan.

About 15 rows for a patient who was admitted, 0-2 for an inquiry. Scores are computed
with :mod:`backend.clinical.scoring` and fall over treatment, as they do in a program
that works. Sets ``patient.facts["clinical.condition_ids"]`` (list of condition ids,
primary diagnosis first).
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from backend.accounts.models import StaffRole
from backend.clinical import codes
from backend.clinical.models import (
    DICOM_DCM,
    Allergy,
    AllergyCategory,
    AllergyClinicalStatus,
    AllergyCriticality,
    AllergyType,
    Assessment,
    AssessmentSource,
    ClinicalNote,
    Condition,
    ConditionClinicalStatus,
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Interpretation,
    Medication,
    MedicationStatus,
    NoteKind,
    NoteStatus,
    Observation,
    ObservationCategory,
    Procedure,
    ReportCategory,
    Severity,
    SocialDomain,
    SocialFactor,
    SocialFactorSource,
)
from backend.clinical.scoring import (
    AUDIT_C,
    GAD7,
    PHQ9,
    InstrumentDef,
    response_items,
    score,
)
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at
from backend.demo.sink import RowSink

DOMAIN = "clinical"
PRIMARY = (("mdd", 30), ("gad", 16), ("ptsd", 12), ("aud", 17), ("oud", 13), ("adhd", 6))
SECONDARY = (
    ("mdd", 14), ("gad", 14), ("ptsd", 6), ("aud", 5), ("insomnia", 12), ("nicotine", 12),
    ("htn", 12), ("t2dm", 7), ("hld", 9), ("adhd", 4),
)  # fmt: skip
ALLERGENS = (
    # (system, code, display, type, category, criticality, reaction, SNOMED reaction, severity)
    (CodeSystem.RXNORM, "7980", "penicillin G", AllergyType.ALLERGY, AllergyCategory.MEDICATION,
     AllergyCriticality.HIGH, "Hives", "126485001", Severity.MODERATE),
    (CodeSystem.RXNORM, "10180", "sulfamethoxazole", AllergyType.ALLERGY,
     AllergyCategory.MEDICATION, AllergyCriticality.LOW, "Rash", "271807003", Severity.MILD),
    (CodeSystem.RXNORM, "2670", "codeine", AllergyType.INTOLERANCE, AllergyCategory.MEDICATION,
     AllergyCriticality.LOW, "Nausea and vomiting", "422587007", Severity.MILD),
    (CodeSystem.RXNORM, "723", "amoxicillin", AllergyType.ALLERGY, AllergyCategory.MEDICATION,
     AllergyCriticality.HIGH, "Hives", "126485001", Severity.MODERATE),
    (CodeSystem.SNOMED, "256349002", "Peanut - dietary (substance)", AllergyType.ALLERGY,
     AllergyCategory.FOOD, AllergyCriticality.HIGH, "Anaphylaxis", "39579001", Severity.SEVERE),
    (CodeSystem.SNOMED, "111088007", "Latex (substance)", AllergyType.ALLERGY,
     AllergyCategory.ENVIRONMENT, AllergyCriticality.LOW, "Rash", "271807003", Severity.MILD),
    (CodeSystem.SNOMED, "288328004", "Bee venom (substance)", AllergyType.ALLERGY,
     AllergyCategory.ENVIRONMENT, AllergyCriticality.HIGH, "Anaphylaxis", "39579001",
     Severity.SEVERE),
)  # fmt: skip
REACTION_DISPLAY = {
    "126485001": "Urticaria",
    "271807003": "Eruption of skin",
    "422587007": "Nausea",
    "39579001": "Anaphylaxis",
}
PHARMACIES = (
    "CVS Pharmacy #2041, 587 Boylston St, Boston MA",
    "Walgreens #10872, 1 Brattle Sq, Cambridge MA",
    "Harborview Outpatient Pharmacy, Boston MA",
    "Stop & Shop Pharmacy #0412, Worcester MA",
)
LABS = ("Quest Diagnostics", "Harborview Lab Services", "LabCorp")
STOP_REASONS = ("Side effects: GI upset", "Side effects: sedation", "Course completed")


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """No reference rows: codes live in :mod:`backend.clinical.codes`."""


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, DOMAIN)
    if patient.stage is JourneyStage.INQUIRY or patient.admitted_at is None:
        patient.facts["clinical.condition_ids"] = []
        _inquiry(ctx, patient, sink, rng)
        return
    Chart(ctx, patient, sink, rng).write()


def _inquiry(ctx: DemoContext, patient: PatientSeed, sink: RowSink, rng: random.Random) -> None:
    """A screening taken on the first call: a self-reported PHQ-9, a social need."""
    when = min(patient.first_contact_at + timedelta(minutes=20), ctx.now)
    roll = rng.random()
    if roll < 0.6:
        total = rng.randint(6, 20)
        _assessment(sink, patient, rng, PHQ9, total, when, source=AssessmentSource.PATIENT_REPORTED)
    if roll > 0.4:
        domain = rng.choice((SocialDomain.HOUSING, SocialDomain.TRANSPORT, SocialDomain.FINANCES))
        staff = rng.choice(ctx.staff[StaffRole.FRONT_DESK])
        _social(sink, patient, rng, domain, when, staff, None, SocialFactorSource.PATIENT_REPORTED)


class Chart:
    """One admitted patient's chart, written in the order a clinic would record it."""

    def __init__(
        self, ctx: DemoContext, patient: PatientSeed, sink: RowSink, rng: random.Random
    ) -> None:
        assert patient.admitted_at is not None
        self.ctx, self.patient, self.sink, self.rng = ctx, patient, sink, rng
        self.start: datetime = patient.admitted_at
        self.end: datetime = min(patient.discharged_at or ctx.now, ctx.now)
        self.physician = ctx.team_member(patient, StaffRole.PHYSICIAN, rng)
        self.therapist = ctx.team_member(patient, StaffRole.THERAPIST, rng)
        self.nurse = ctx.team_member(patient, StaffRole.NURSE, rng)
        encounters = patient.facts.get("scheduling.encounters") or []
        # Visits during the episode, in time order: results and notes attach to them.
        self.visits: list[tuple[uuid.UUID, datetime, uuid.UUID | None]] = sorted(
            (e for e in encounters if self.start - timedelta(days=1) <= e[1] <= self.end),
            key=lambda e: e[1],
        )
        self.keys: list[str] = []
        self.condition_ids: dict[str, uuid.UUID] = {}

    @property
    def has_sud(self) -> bool:
        return any(k in codes.SUD_KEYS for k in self.keys)

    def moment(self, fraction: float) -> tuple[datetime, uuid.UUID | None, uuid.UUID | None]:
        """(when, encounter id, provider) a fraction of the way through the episode."""
        if self.visits:
            visit = self.visits[min(int(fraction * len(self.visits)), len(self.visits) - 1)]
            return visit[1], visit[0], visit[2]
        if fraction <= 0:
            return self.start, None, None
        when = at(self.start + (self.end - self.start) * fraction, self.rng)
        return min(max(when, self.start), self.end, self.ctx.now), None, None

    def write(self) -> None:
        self.conditions()
        self.medications()
        self.allergies()
        self.assessments()
        self.labs()
        self.vitals()
        self.notes()
        self.social()
        self.extras()

    # -- problems and medications ------------------------------------------------------

    def conditions(self) -> None:
        rng = self.rng
        primary = rng.choices([k for k, _ in PRIMARY], weights=[w for _, w in PRIMARY])[0]
        self.keys = [primary]
        wanted = rng.choices((2, 3, 4), weights=(50, 38, 12))[0]
        while len(self.keys) < wanted:
            key = rng.choices([k for k, _ in SECONDARY], weights=[w for _, w in SECONDARY])[0]
            if key not in self.keys:
                self.keys.append(key)
        when, encounter, _ = self.moment(0)
        done = self.patient.discharged_at is not None
        for n, key in enumerate(self.keys):
            c = codes.CONDITIONS[key]
            status = ConditionClinicalStatus.ACTIVE
            abated: date | None = None
            if done and c.behavioural:
                roll = rng.random()
                if c.part2:
                    status = (
                        ConditionClinicalStatus.REMISSION
                        if roll < 0.7
                        else ConditionClinicalStatus.RELAPSE
                        if roll < 0.8
                        else ConditionClinicalStatus.ACTIVE
                    )
                elif key == "insomnia" and roll < 0.6:
                    status = ConditionClinicalStatus.RESOLVED
                    abated = self.end.date()
                elif roll < 0.5:
                    status = ConditionClinicalStatus.REMISSION
            years = rng.randint(1, 15)
            self.condition_ids[key] = self.sink.add(
                Condition,
                patient_id=self.patient.id,
                effective_at=when,
                author_id=self.physician,
                asserter_id=self.physician,
                sensitivity=Sensitivity.PART2 if c.part2 else Sensitivity.NONE,
                encounter_id=encounter,
                code_system=CodeSystem.ICD10,
                code_code=c.icd10,
                code_display=c.icd10_display,
                alt_code_system=CodeSystem.SNOMED,
                alt_code_code=c.snomed,
                alt_code_display=c.snomed_display,
                clinical_status=status,
                severity=Severity.MODERATE if key == "mdd" else None,
                onset_date=None if n == 0 and years > 12 else when.date() - timedelta(365 * years),
                onset_text="adolescence" if n == 0 and years > 12 else None,
                abatement_date=abated,
                rank=1 if n == 0 else None,  # the principal diagnosis
            )
        self.patient.facts["clinical.condition_ids"] = list(self.condition_ids.values())

    def medications(self) -> None:
        rng, today = self.rng, self.ctx.today
        chosen: list[tuple[str, str]] = []
        for n, key in enumerate(self.keys):
            options = codes.TREATS.get(key)
            # The primary diagnosis is always treated; a comorbidity often is not (yet).
            if options and len(chosen) < 3 and (n == 0 or rng.random() < 0.6):
                drug = options[0] if rng.random() < 0.6 else rng.choice(options)
                if drug not in {d for _, d in chosen}:
                    chosen.append((key, drug))
        if not chosen:  # no drug for the problems: a hypnotic for sleep is common
            chosen.append(("insomnia", "trazodone"))
        done = self.patient.discharged_at is not None
        for key, drug_key in chosen:
            d = codes.DRUGS[drug_key]
            c = codes.CONDITIONS[key]
            outside = not c.behavioural  # the primary-care doctor prescribes these
            start = self.start.date() + timedelta(days=rng.randint(0, 3))
            if outside:
                start = start - timedelta(days=rng.randint(200, 2000))
            start = min(start, today)
            status = MedicationStatus.ACTIVE
            end: date | None = None
            reason: str | None = None
            if done and not outside and rng.random() < 0.4:
                status = rng.choice((MedicationStatus.COMPLETED, MedicationStatus.STOPPED))
                end = self.end.date()
                reason = rng.choice(STOP_REASONS)
            elif not done and rng.random() < 0.04:
                status, reason = MedicationStatus.ON_HOLD, "Held pending lab results"
            refills = rng.randint(*d.refills)
            last_fill = refill_due = None
            remaining: int | None = refills
            if status is MedicationStatus.ACTIVE and not outside:
                # A fill within the last supply period; 6% are late to refill.
                late = rng.random() < 0.06
                ago = (
                    rng.randint(d.days_supply, d.days_supply + 10)
                    if late
                    else rng.randint(0, d.days_supply - 1)
                )
                last_fill = max(start, today - timedelta(days=ago))
                refill_due = last_fill + timedelta(days=d.days_supply)
                fills = (last_fill - start).days // d.days_supply
                remaining = max(refills - fills, 0)
            elif status is not MedicationStatus.ACTIVE:
                last_fill = start
            self.sink.add(
                Medication,
                patient_id=self.patient.id,
                effective_at=min(datetime.combine(start, self.start.timetz()), self.ctx.now),
                author_id=None if outside else self.physician,
                sensitivity=Sensitivity.PART2 if d.part2 or c.part2 else Sensitivity.NONE,
                code_system=CodeSystem.RXNORM,
                code_code=d.rxnorm,
                code_display=d.display,
                status=status,
                status_reason=reason,
                is_patient_reported=outside,
                dosage_text=d.sig,
                dose_quantity=d.dose,
                dose_unit=d.unit,
                route=d.route,
                frequency=d.frequency,
                as_needed="as needed" in d.sig,
                start_date=start,
                end_date=end,
                prescriber_id=None if outside else self.physician,
                dea_schedule=d.dea_schedule,
                quantity=None if outside else Decimal(d.days_supply * d.per_day),
                quantity_unit=None if outside else d.form,
                days_supply=None if outside else d.days_supply,
                refills_allowed=None if outside else refills,
                refills_remaining=None if outside else remaining,
                last_filled_on=last_fill,
                refill_due_on=refill_due,
                pharmacy=rng.choice(PHARMACIES),
                reason_system=CodeSystem.ICD10,
                reason_code=c.icd10,
                reason_display=c.icd10_display,
                reason_condition_id=self.condition_ids.get(key),
            )

    def allergies(self) -> None:
        count = self.rng.choices((0, 1, 2), weights=(60, 32, 8))[0]
        when, encounter, _ = self.moment(0)
        for a in self.rng.sample(ALLERGENS, count):
            system, code, display, kind, category, crit, text, reaction, severity = a
            self.sink.add(
                Allergy,
                patient_id=self.patient.id,
                effective_at=when,
                author_id=self.nurse,
                encounter_id=encounter,
                code_system=system,
                code_code=code,
                code_display=display,
                allergy_type=kind,
                category=category,
                criticality=crit,
                clinical_status=AllergyClinicalStatus.ACTIVE,
                reaction_manifestation=text,
                manifestation_system=CodeSystem.SNOMED,
                manifestation_code=reaction,
                manifestation_display=REACTION_DISPLAY[reaction],
                reaction_severity=severity,
                onset_date=self.patient.birth_date + timedelta(days=self.rng.randint(1500, 9000)),
            )

    # -- measurements ------------------------------------------------------------------

    def assessments(self) -> None:
        rng = self.rng
        days = (self.end - self.start).days
        points = (
            [0.0]
            if days < 21
            else [0.0, 1.0]
            if days < 60 or rng.random() < 0.75
            else [0.0, 0.5, 1.0]
        )
        depressed = "mdd" in self.keys
        anxious = bool(codes.ANXIETY_KEYS.intersection(self.keys))
        phq0 = rng.randint(14, 23) if depressed else rng.randint(6, 14)
        gad0 = rng.randint(12, 19) if anxious else rng.randint(4, 11)
        gain = rng.uniform(0.35, 0.75)  # fraction of the baseline left at the end
        seen: set[datetime] = set()
        for i, fraction in enumerate(points):
            when, encounter, provider = self.moment(fraction)
            if when in seen:  # fewer visits than time points: one form per visit
                continue
            seen.add(when)
            factor = 1 - (1 - gain) * fraction
            staff = provider or self.nurse
            _assessment(
                self.sink, self.patient, rng, PHQ9, round(phq0 * factor), when,
                staff=staff, encounter=encounter, ideation=i == 0 and depressed,
            )  # fmt: skip
            if (i == 0 and (anxious or rng.random() < 0.3)) or (anxious and fraction == 1.0):
                _assessment(
                    self.sink, self.patient, rng, GAD7, round(gad0 * factor), when,
                    staff=staff, encounter=encounter,
                )  # fmt: skip
        if "aud" in self.keys:
            when, encounter, provider = self.moment(0)
            _assessment(
                self.sink, self.patient, rng, AUDIT_C, rng.randint(6, 12), when,
                staff=provider or self.nurse, encounter=encounter, part2=True,
            )  # fmt: skip

    def labs(self) -> None:
        rng = self.rng
        if rng.random() > 0.5:
            return
        when, encounter, _ = self.moment(0.1 if rng.random() < 0.5 else 0)
        issued = min(when + timedelta(hours=rng.randint(6, 30)), self.ctx.now)
        lab = rng.choice(LABS)
        common = {
            "patient_id": self.patient.id,
            "effective_at": when,
            "encounter_id": encounter,
            "issued_at": issued,
            "performer_name": lab,
        }
        if self.has_sud:
            self._drug_screen(common)
            return
        key = "a1c" if "t2dm" in self.keys else rng.choice(("cbc", "cmp", "cmp", "lipids"))
        panel = codes.PANELS[key]
        abnormal = 0
        results: list[dict[str, Any]] = []
        for a in rng.sample(panel.analytes, min(3, len(panel.analytes))):
            value, flag = _lab_value(rng, a, elevated=key == "a1c" or ("aud" in self.keys))
            abnormal += flag is not Interpretation.NORMAL
            results.append({"analyte": a, "value": value, "flag": flag})
        report = self.sink.add(
            DiagnosticReport,
            **common,
            category=ReportCategory.LAB,
            code_system=CodeSystem.LOINC,
            code_code=panel.loinc,
            code_display=panel.display,
            conclusion=f"{abnormal} result(s) outside the reference range." if abnormal else None,
            ordered_by_id=self.physician,
            accession_number=f"A{rng.randrange(10**9):09d}",
        )
        for r in results:
            a, flag = r["analyte"], r["flag"]
            self.sink.add(
                Observation,
                **common,
                category=ObservationCategory.LABORATORY,
                code_system=CodeSystem.LOINC,
                code_code=a.loinc,
                code_display=a.display,
                value_quantity=r["value"],
                value_unit=a.unit,
                reference_low=a.low,
                reference_high=a.high,
                interpretation=flag,
                is_abnormal=flag is not Interpretation.NORMAL,
                specimen=panel.specimen,
                diagnostic_report_id=report,
            )

    def _drug_screen(self, common: dict[str, Any]) -> None:
        rng = self.rng
        use = {"opiates": 0.0, "fentanyl": 0.0, "cocaine": 0.05, "cannabinoids": 0.15}
        if "oud" in self.keys:
            use.update(opiates=0.3, fentanyl=0.35)
        found = [name for name, p in use.items() if rng.random() < p]
        report = self.sink.add(
            DiagnosticReport,
            **common,
            sensitivity=Sensitivity.PART2,
            category=ReportCategory.LAB,
            code_system=CodeSystem.LOINC,
            code_code=codes.UDS_PANEL[0],
            code_display=codes.UDS_PANEL[1],
            conclusion=f"Presumptive positive: {', '.join(found)}."
            if found
            else "Negative screen.",
            ordered_by_id=self.physician,
            accession_number=f"U{rng.randrange(10**9):09d}",
        )
        for name in rng.sample(sorted(use), 3):
            loinc, display = codes.UDS_ANALYTES[name]
            system, code, text = codes.POSITIVE if name in found else codes.NEGATIVE
            self.sink.add(
                Observation,
                **common,
                sensitivity=Sensitivity.PART2,
                category=ObservationCategory.LABORATORY,
                code_system=CodeSystem.LOINC,
                code_code=loinc,
                code_display=display,
                value_code_system=system,
                value_code_code=code,
                value_code_display=text,
                reference_text="Negative",
                interpretation=Interpretation.ABNORMAL if name in found else Interpretation.NORMAL,
                is_abnormal=name in found,
                specimen="urine",
                method="immunoassay screen",
                diagnostic_report_id=report,
            )

    def vitals(self) -> None:
        rng = self.rng
        when, encounter, _ = self.moment(0)
        hypertensive = "htn" in self.keys
        systolic = rng.randint(128, 156) if hypertensive else rng.randint(104, 136)
        diastolic = rng.randint(80, 96) if hypertensive else rng.randint(62, 86)
        high = systolic >= 140 or diastolic >= 90
        common = {
            "patient_id": self.patient.id,
            "effective_at": when,
            "encounter_id": encounter,
            "performer_id": self.nurse,
            "author_id": self.nurse,
            "category": ObservationCategory.VITAL_SIGNS,
            "code_system": CodeSystem.LOINC,
        }
        self.sink.add(
            Observation,
            **common,
            code_code=codes.BP_PANEL[0],
            code_display=codes.BP_PANEL[1],
            components=[
                {"code": codes.BP_SYSTOLIC[0], "display": codes.BP_SYSTOLIC[1],
                 "value": systolic, "unit": "mm[Hg]"},
                {"code": codes.BP_DIASTOLIC[0], "display": codes.BP_DIASTOLIC[1],
                 "value": diastolic, "unit": "mm[Hg]"},
            ],
            value_text=f"{systolic}/{diastolic} mmHg",
            interpretation=Interpretation.HIGH if high else Interpretation.NORMAL,
            is_abnormal=high,
        )  # fmt: skip
        if rng.random() < 0.15:
            kg = Decimal(rng.randint(480, 1150)) / 10
            self.sink.add(
                Observation,
                **common,
                code_code=codes.BODY_WEIGHT[0],
                code_display=codes.BODY_WEIGHT[1],
                value_quantity=kg,
                value_unit="kg",
            )

    # -- documentation -----------------------------------------------------------------

    def notes(self) -> None:
        rng = self.rng
        names = ", ".join(codes.CONDITIONS[k].icd10_display for k in self.keys)
        part2 = Sensitivity.PART2 if self.has_sud else Sensitivity.NONE
        first = NoteKind.INTAKE if rng.random() < 0.5 else NoteKind.ASSESSMENT
        self._note(
            first, 0.0, self.physician, part2, "Psychiatric diagnostic evaluation",
            f"Reason for admission: {names}. History reviewed; risk assessment completed. "
            f"Plan: medication management, individual therapy, weekly measurement-based care.",
        )  # fmt: skip
        if (self.end - self.start).days >= 7:
            if rng.random() < 0.45:
                self._note(
                    NoteKind.PSYCHOTHERAPY, 0.5, self.therapist, part2 | Sensitivity.PSYCHOTHERAPY,
                    "Psychotherapy session",
                    "Session focused on cognitive restructuring of core beliefs and trauma "
                    "processing. Therapist impressions and hypotheses recorded for treatment "
                    "planning; not part of the designated record set.",
                )  # fmt: skip
            else:
                self._note(
                    NoteKind.PROGRESS, 0.5, self.therapist, part2, "Individual therapy progress",
                    "Patient engaged; reports improved sleep and mood. Practised coping skills "
                    "from last session. Safety plan reviewed. Continue current plan.",
                )  # fmt: skip
        if rng.random() < 0.1:
            self._note(
                NoteKind.PHONE, 0.7, self.nurse, part2, "Phone call: medication question",
                "Patient called about a missed dose; advised to resume the usual schedule.",
            )  # fmt: skip
        if self.patient.discharged_at is not None:
            self._note(
                NoteKind.DISCHARGE_SUMMARY, 1.0, self.physician, part2, "Discharge summary",
                f"Completed the program. Diagnoses: {names}. Symptoms improved on measurement "
                f"(PHQ-9, GAD-7). Discharged to aftercare with follow-up in 1-2 weeks.",
            )  # fmt: skip

    def _note(
        self,
        kind: NoteKind,
        fraction: float,
        author: uuid.UUID,
        sensitivity: Sensitivity,
        title: str,
        body: str,
    ) -> None:
        when, encounter, provider = self.moment(fraction)
        author = author if kind in (NoteKind.PSYCHOTHERAPY, NoteKind.PHONE) else provider or author
        # Notes of the last two days may still be waiting for a signature.
        draft = self.ctx.now - when < timedelta(days=2) and self.rng.random() < 0.5
        code, display = codes.NOTE_TYPES[kind]
        signed = min(when + timedelta(hours=self.rng.randint(1, 20)), self.ctx.now)
        self.sink.add(
            ClinicalNote,
            patient_id=self.patient.id,
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

    def social(self) -> None:
        count = self.rng.choices((2, 3, 4), weights=(70, 24, 6))[0]
        when, encounter, _ = self.moment(0)
        staff = self.ctx.team_member(self.patient, StaffRole.CARE_COORDINATOR, self.rng)
        for domain in self.rng.sample(list(codes.SDOH), count):
            _social(self.sink, self.patient, self.rng, domain, when, staff, encounter)

    def extras(self) -> None:
        """Rare records: a head scan, ECT/TMS, a flu shot."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.08:
            self._imaging()
        elif roll < 0.10:
            when, encounter, _ = self.moment(0.5)
            cpt, display = rng.choice(codes.PROCEDURES)
            self.sink.add(
                Procedure,
                patient_id=self.patient.id,
                effective_at=when,
                author_id=self.physician,
                encounter_id=encounter,
                code_system=CodeSystem.CPT,
                code_code=cpt,
                code_display=display,
                performed_end=when + timedelta(minutes=40),
                performer_id=self.physician,
                location_id=self.patient.location_id,
                reason_condition_id=self.condition_ids.get("mdd"),
            )
        if rng.random() < 0.08:
            when, encounter, _ = self.moment(0.5)
            self.sink.add(
                Immunization,
                patient_id=self.patient.id,
                effective_at=when,
                author_id=self.nurse,
                encounter_id=encounter,
                vaccine_system=CodeSystem.CVX,
                vaccine_code=codes.FLU_VACCINE[0],
                vaccine_display=codes.FLU_VACCINE[1],
                lot_number=f"FL{rng.randrange(10**6):06d}",
                site="left deltoid",
                route="intramuscular",
                dose_quantity=Decimal("0.5"),
                dose_unit="mL",
                performer_id=self.nurse,
                location_id=self.patient.location_id,
            )

    def _imaging(self) -> None:
        rng = self.rng
        cpt, cpt_text, loinc, loinc_text, modality, modality_text, site, site_text = rng.choice(
            codes.IMAGING
        )
        when, encounter, _ = self.moment(0.2)
        issued = min(when + timedelta(hours=rng.randint(4, 48)), self.ctx.now)
        report = self.sink.add(
            DiagnosticReport,
            patient_id=self.patient.id,
            effective_at=when,
            encounter_id=encounter,
            category=ReportCategory.IMAGING,
            code_system=CodeSystem.LOINC,
            code_code=loinc,
            code_display=loinc_text,
            conclusion="No acute intracranial abnormality.",
            issued_at=issued,
            performer_name="Boston Imaging Associates",
            ordered_by_id=self.physician,
        )
        self.sink.add(
            ImagingStudy,
            patient_id=self.patient.id,
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
            referrer_id=self.physician,
            performer_name="Boston Imaging Associates",
            diagnostic_report_id=report,
        )


# --- helpers shared by inquiry and chart ----------------------------------------------


def _spread(rng: random.Random, definition: InstrumentDef, total: int, fixed: int) -> list[int]:
    """Item answers summing to ``total``; the last item pinned at ``fixed`` (PHQ-9 item 9)."""
    n, top = len(definition.items), definition.max_answer
    answers = [0] * n
    answers[-1] = fixed
    left = max(0, min(total - fixed, top * (n - 1)))
    while left:
        i = rng.randrange(n - 1)
        if answers[i] < top:
            answers[i] += 1
            left -= 1
    return answers


def _assessment(
    sink: RowSink,
    patient: PatientSeed,
    rng: random.Random,
    definition: InstrumentDef,
    total: int,
    when: datetime,
    *,
    staff: uuid.UUID | None = None,
    encounter: uuid.UUID | None = None,
    source: AssessmentSource = AssessmentSource.CLINICIAN_ADMINISTERED,
    ideation: bool = False,
    part2: bool = False,
) -> None:
    total = max(0, min(total, definition.max_total))
    last = 0
    if definition is PHQ9 and ideation and total >= 10 and rng.random() < 0.25:
        last = 1
    elif definition is not PHQ9:
        last = min(definition.max_answer, rng.randint(0, max(0, total // len(definition.items))))
    answers = _spread(rng, definition, total, last)
    result = score(definition.instrument, answers, sex=patient.sex)
    sink.add(
        Assessment,
        patient_id=patient.id,
        effective_at=when,
        author_id=staff,
        sensitivity=Sensitivity.PART2 if part2 else Sensitivity.NONE,
        encounter_id=encounter,
        instrument=definition.instrument,
        code_system=CodeSystem.LOINC,
        code_code=definition.total_loinc,
        code_display=definition.total_display,
        items=response_items(definition.instrument, answers),
        total_score=result.total,
        severity=result.severity,
        positive_screen=result.positive,
        suicide_risk=result.suicide_risk,
        source=source,
        administered_by_id=staff,
        note="Item 9 positive: safety assessment completed the same day."
        if result.suicide_risk
        else None,
    )


def _lab_value(
    rng: random.Random, a: codes.AnalyteDef, *, elevated: bool
) -> tuple[Decimal, Interpretation]:
    low = float(a.low) if a.low is not None else float(a.high or 0) * 0.5
    high = float(a.high) if a.high is not None else low * 2.5
    roll = rng.random()
    if roll < (0.35 if elevated else 0.12) and a.high is not None:
        value = high * rng.uniform(1.05, 1.6)
    elif roll > 0.95 and a.low is not None:
        value = low * rng.uniform(0.7, 0.97)
    else:
        value = rng.uniform(low, high)
    quantum = Decimal(1).scaleb(-a.decimals)
    amount = Decimal(str(value)).quantize(quantum)
    if a.high is not None and amount > a.high:
        return amount, Interpretation.HIGH
    if a.low is not None and amount < a.low:
        return amount, Interpretation.LOW
    return amount, Interpretation.NORMAL


def _social(
    sink: RowSink,
    patient: PatientSeed,
    rng: random.Random,
    domain: SocialDomain,
    when: datetime,
    staff: uuid.UUID | None,
    encounter: uuid.UUID | None,
    source: SocialFactorSource = SocialFactorSource.SCREENING_TOOL,
) -> None:
    loinc, display, instrument, answers = codes.SDOH[domain]
    # Most people screen negative; weight the first (no-risk) answer.
    weights = [4] + [1] * (len(answers) - 1)
    risk, text, answer = rng.choices(answers, weights=weights)[0]
    sink.add(
        SocialFactor,
        patient_id=patient.id,
        effective_at=when,
        author_id=staff,
        encounter_id=encounter,
        domain=domain,
        risk=risk,
        code_system=CodeSystem.LOINC,
        code_code=loinc,
        code_display=display,
        value_text=text,
        value_code_system=answer[0] if answer else None,
        value_code_code=answer[1] if answer else None,
        value_code_display=answer[2] if answer else None,
        source=source,
        instrument=instrument if source is SocialFactorSource.SCREENING_TOOL else None,
        screened_at=when,
        screened_by_id=staff,
    )
