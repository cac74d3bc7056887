"""Row writers shared by the inquiry screening and the chart: scored questionnaires,
social-needs screens, lab values."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from decimal import Decimal

from backend.clinical import codes
from backend.clinical.models import (
    Assessment,
    AssessmentSource,
    Interpretation,
    SocialDomain,
    SocialFactor,
    SocialFactorSource,
)
from backend.clinical.scoring import (
    PHQ9,
    InstrumentDef,
    response_items,
    score,
)
from backend.common.types import CodeSystem, Sensitivity
from backend.demo.context import PatientSeed
from backend.demo.sink import RowSink


def spread(rng: random.Random, definition: InstrumentDef, total: int, fixed: int) -> list[int]:
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


def add_assessment(
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
    answers = spread(rng, definition, total, last)
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


def lab_value(
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


def add_social(
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
