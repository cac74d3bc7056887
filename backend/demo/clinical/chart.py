"""One admitted patient's chart: problems, medications and allergies here; measurements
in :mod:`.measurements`, notes, social needs and rare records in :mod:`.documentation`."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from backend.accounts.models import StaffRole
from backend.clinical import codes
from backend.clinical.models import (
    Allergy,
    AllergyClinicalStatus,
    Condition,
    ConditionClinicalStatus,
    Medication,
    MedicationStatus,
    Severity,
)
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.clinical import documentation, measurements
from backend.demo.clinical.content import (
    ALLERGENS,
    PHARMACIES,
    REACTION_DISPLAY,
    SECONDARY,
    STOP_REASONS,
)
from backend.demo.context import DemoContext, PatientSeed, at
from backend.demo.journey_content import concern_of
from backend.demo.sink import RowSink


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
        measurements.assessments(self)
        measurements.labs(self)
        measurements.vitals(self)
        documentation.notes(self)
        documentation.social(self)
        documentation.extras(self)

    # -- problems and medications ------------------------------------------------------

    def conditions(self) -> None:
        rng = self.rng
        # The principal diagnosis is the concern the patient came with; a substance-use
        # comorbidity only comes with a substance-use concern, so the journey's Part 2
        # decision (``journey.sud``) holds for the whole chart.
        concern = concern_of(self.patient.facts, rng)
        self.keys = [concern.condition]
        wanted = rng.choices((2, 3, 4), weights=(50, 38, 12))[0]
        while len(self.keys) < wanted:
            key = rng.choices([k for k, _ in SECONDARY], weights=[w for _, w in SECONDARY])[0]
            if key not in self.keys and (concern.sud or not codes.CONDITIONS[key].part2):
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
