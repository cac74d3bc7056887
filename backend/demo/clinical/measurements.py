"""A chart's measurements: PHQ-9/GAD-7/AUDIT-C series, lab panels and urine drug
screens, vital signs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from backend.clinical import codes
from backend.clinical.models import (
    DiagnosticReport,
    Interpretation,
    Observation,
    ObservationCategory,
    ReportCategory,
)
from backend.clinical.scoring import (
    AUDIT_C,
    GAD7,
    PHQ9,
)
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.clinical.content import (
    LABS,
)
from backend.demo.clinical.records import add_assessment, lab_value

if TYPE_CHECKING:
    from backend.demo.clinical.chart import Chart


def assessments(chart: Chart) -> None:
    rng = chart.rng
    days = (chart.end - chart.start).days
    points = (
        [0.0] if days < 21 else [0.0, 1.0] if days < 60 or rng.random() < 0.75 else [0.0, 0.5, 1.0]
    )
    depressed = "mdd" in chart.keys
    anxious = bool(codes.ANXIETY_KEYS.intersection(chart.keys))
    phq0 = rng.randint(14, 23) if depressed else rng.randint(6, 14)
    gad0 = rng.randint(12, 19) if anxious else rng.randint(4, 11)
    gain = rng.uniform(0.35, 0.75)  # fraction of the baseline left at the end
    seen: set[datetime] = set()
    for i, fraction in enumerate(points):
        when, encounter, provider = chart.moment(fraction)
        if when in seen:  # fewer visits than time points: one form per visit
            continue
        seen.add(when)
        factor = 1 - (1 - gain) * fraction
        staff = provider or chart.nurse
        add_assessment(
            chart.sink, chart.patient, rng, PHQ9, round(phq0 * factor), when,
            staff=staff, encounter=encounter, ideation=i == 0 and depressed,
        )  # fmt: skip
        if (i == 0 and (anxious or rng.random() < 0.3)) or (anxious and fraction == 1.0):
            add_assessment(
                chart.sink, chart.patient, rng, GAD7, round(gad0 * factor), when,
                staff=staff, encounter=encounter,
            )  # fmt: skip
    if "aud" in chart.keys:
        when, encounter, provider = chart.moment(0)
        add_assessment(
            chart.sink, chart.patient, rng, AUDIT_C, rng.randint(6, 12), when,
            staff=provider or chart.nurse, encounter=encounter, part2=True,
        )  # fmt: skip


def labs(chart: Chart) -> None:
    rng = chart.rng
    if rng.random() > 0.5:
        return
    when, encounter, _ = chart.moment(0.1 if rng.random() < 0.5 else 0)
    issued = min(when + timedelta(hours=rng.randint(6, 30)), chart.ctx.now)
    lab = rng.choice(LABS)
    common = {
        "patient_id": chart.patient.id,
        "effective_at": when,
        "encounter_id": encounter,
        "issued_at": issued,
        "performer_name": lab,
    }
    if chart.has_sud:
        drug_screen(chart, common)
        return
    key = "a1c" if "t2dm" in chart.keys else rng.choice(("cbc", "cmp", "cmp", "lipids"))
    panel = codes.PANELS[key]
    abnormal = 0
    results: list[dict[str, Any]] = []
    for a in rng.sample(panel.analytes, min(3, len(panel.analytes))):
        value, flag = lab_value(rng, a, elevated=key == "a1c" or ("aud" in chart.keys))
        abnormal += flag is not Interpretation.NORMAL
        results.append({"analyte": a, "value": value, "flag": flag})
    report = chart.sink.add(
        DiagnosticReport,
        **common,
        category=ReportCategory.LAB,
        code_system=CodeSystem.LOINC,
        code_code=panel.loinc,
        code_display=panel.display,
        conclusion=f"{abnormal} result(s) outside the reference range." if abnormal else None,
        ordered_by_id=chart.physician,
        accession_number=f"A{rng.randrange(10**9):09d}",
    )
    for r in results:
        a, flag = r["analyte"], r["flag"]
        chart.sink.add(
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


def drug_screen(chart: Chart, common: dict[str, Any]) -> None:
    rng = chart.rng
    use = {"opiates": 0.0, "fentanyl": 0.0, "cocaine": 0.05, "cannabinoids": 0.15}
    if "oud" in chart.keys:
        use.update(opiates=0.3, fentanyl=0.35)
    found = [name for name, p in use.items() if rng.random() < p]
    report = chart.sink.add(
        DiagnosticReport,
        **common,
        sensitivity=Sensitivity.PART2,
        category=ReportCategory.LAB,
        code_system=CodeSystem.LOINC,
        code_code=codes.UDS_PANEL[0],
        code_display=codes.UDS_PANEL[1],
        conclusion=f"Presumptive positive: {', '.join(found)}." if found else "Negative screen.",
        ordered_by_id=chart.physician,
        accession_number=f"U{rng.randrange(10**9):09d}",
    )
    for name in rng.sample(sorted(use), 3):
        loinc, display = codes.UDS_ANALYTES[name]
        system, code, text = codes.POSITIVE if name in found else codes.NEGATIVE
        chart.sink.add(
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


def vitals(chart: Chart) -> None:
    rng = chart.rng
    when, encounter, _ = chart.moment(0)
    hypertensive = "htn" in chart.keys
    systolic = rng.randint(128, 156) if hypertensive else rng.randint(104, 136)
    diastolic = rng.randint(80, 96) if hypertensive else rng.randint(62, 86)
    high = systolic >= 140 or diastolic >= 90
    common = {
        "patient_id": chart.patient.id,
        "effective_at": when,
        "encounter_id": encounter,
        "performer_id": chart.nurse,
        "author_id": chart.nurse,
        "category": ObservationCategory.VITAL_SIGNS,
        "code_system": CodeSystem.LOINC,
    }
    chart.sink.add(
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
        chart.sink.add(
            Observation,
            **common,
            code_code=codes.BODY_WEIGHT[0],
            code_display=codes.BODY_WEIGHT[1],
            value_quantity=kg,
            value_unit="kg",
        )
