"""Scoring of the standard behavioural-health screening instruments.

Pure functions, no database: the demo generator, the patient portal (self-reported
questionnaires) and importers all score answers the same way, so a PHQ-9 total seen in
the staff chart is the number the patient saw when they submitted it.

Answers are the item scores in the instrument's order (PHQ-9 and GAD-7: 0 "not at all" to
3 "nearly every day"; AUDIT-C: 0 to 4). Anything else raises :class:`ValueError` with a
message a form can show as it is.

Severity bands:

* PHQ-9 (Kroenke, Spitzer & Williams 2001): 0-4 minimal, 5-9 mild, 10-14 moderate,
  15-19 moderately severe, 20-27 severe. Item 9 (thoughts of death or self-harm) above 0
  is a suicide-risk flag whatever the total: it must reach a clinician the same day.
* GAD-7 (Spitzer et al. 2006): 0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe.
* AUDIT-C (Bradley et al. 2007): 0 none; a positive screen is >= 4 for men and >= 3 for
  women. Below the threshold is minimal (low risk); from the threshold to 5 mild, 6-7
  moderate, 8-12 severe (the VA's risk zones, Rubinsky et al. 2013).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class Instrument(enum.StrEnum):
    """Standardised instruments an :class:`~backend.clinical.models.Assessment` records."""

    PHQ9 = "phq9"
    PHQ2 = "phq2"
    GAD7 = "gad7"
    AUDIT_C = "audit_c"
    AUDIT = "audit"
    DAST10 = "dast10"
    PCL5 = "pcl5"
    CSSRS = "cssrs"  # Columbia Suicide Severity Rating Scale (screener)
    ASRS = "asrs"  # Adult ADHD Self-Report Scale
    MDQ = "mdq"  # Mood Disorder Questionnaire
    OTHER = "other"


class SeverityBand(enum.StrEnum):
    NONE = "none"
    MINIMAL = "minimal"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately_severe"
    SEVERE = "severe"


@dataclass(frozen=True, slots=True)
class ItemDef:
    link_id: str  # the item's LOINC code: FHIR QuestionnaireResponse.item.linkId
    text: str


@dataclass(frozen=True, slots=True)
class InstrumentDef:
    instrument: Instrument
    name: str
    panel_loinc: str  # the questionnaire (FHIR Questionnaire.code)
    total_loinc: str  # the total score (FHIR Observation.code)
    total_display: str
    items: tuple[ItemDef, ...]
    max_answer: int

    @property
    def max_total(self) -> int:
        return self.max_answer * len(self.items)


PHQ9 = InstrumentDef(
    Instrument.PHQ9,
    "PHQ-9",
    "44249-1",
    "44261-6",
    "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
    (
        ItemDef("44250-9", "Little interest or pleasure in doing things"),
        ItemDef("44255-8", "Feeling down, depressed, or hopeless"),
        ItemDef("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        ItemDef("44254-1", "Feeling tired or having little energy"),
        ItemDef("44251-7", "Poor appetite or overeating"),
        ItemDef(
            "44258-2",
            "Feeling bad about yourself, or that you are a failure or have let yourself "
            "or your family down",
        ),
        ItemDef("44252-5", "Trouble concentrating on things"),
        ItemDef("44253-3", "Moving or speaking slowly, or being fidgety or restless"),
        ItemDef("44260-8", "Thoughts that you would be better off dead, or of hurting yourself"),
    ),
    3,
)
GAD7 = InstrumentDef(
    Instrument.GAD7,
    "GAD-7",
    "69737-5",
    "70274-6",
    "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
    (
        ItemDef("69725-0", "Feeling nervous, anxious, or on edge"),
        ItemDef("68509-9", "Not being able to stop or control worrying"),
        ItemDef("69733-4", "Worrying too much about different things"),
        ItemDef("69734-2", "Trouble relaxing"),
        ItemDef("69735-9", "Being so restless that it is hard to sit still"),
        ItemDef("69689-8", "Becoming easily annoyed or irritable"),
        ItemDef("69736-7", "Feeling afraid, as if something awful might happen"),
    ),
    3,
)
AUDIT_C = InstrumentDef(
    Instrument.AUDIT_C,
    "AUDIT-C",
    "72109-2",
    "75626-2",
    "Total score [AUDIT-C]",
    (
        ItemDef("68518-0", "How often do you have a drink containing alcohol?"),
        ItemDef(
            "68519-8", "How many standard drinks containing alcohol do you have on a typical day?"
        ),
        ItemDef("68520-6", "How often do you have six or more drinks on one occasion?"),
    ),
    4,
)
DEFINITIONS: dict[Instrument, InstrumentDef] = {d.instrument: d for d in (PHQ9, GAD7, AUDIT_C)}

PHQ9_SUICIDE_ITEM = 9  # 1-based, as clinicians name it


@dataclass(frozen=True, slots=True)
class Score:
    instrument: Instrument
    total: int
    severity: SeverityBand
    positive: bool  # at or above the instrument's usual clinical cut-off
    suicide_risk: bool = False  # only PHQ-9 sets it (item 9 > 0)


def _validated(definition: InstrumentDef, answers: Sequence[int]) -> list[int]:
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise ValueError(f"{definition.name} answers must be a list of integers")
    expected = len(definition.items)
    if len(answers) != expected:
        raise ValueError(f"{definition.name} needs exactly {expected} answers, got {len(answers)}")
    checked: list[int] = []
    for number, answer in enumerate(answers, start=1):
        # bool is an int subclass; True as an answer is a bug in the caller, not a 1.
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ValueError(
                f"{definition.name} item {number}: answer must be an integer, got {answer!r}"
            )
        if not 0 <= answer <= definition.max_answer:
            raise ValueError(
                f"{definition.name} item {number}: answer must be between 0 and "
                f"{definition.max_answer}, got {answer}"
            )
        checked.append(answer)
    return checked


def phq9_severity(total: int) -> SeverityBand:
    _check_total(PHQ9, total)
    if total <= 4:
        return SeverityBand.MINIMAL
    if total <= 9:
        return SeverityBand.MILD
    if total <= 14:
        return SeverityBand.MODERATE
    if total <= 19:
        return SeverityBand.MODERATELY_SEVERE
    return SeverityBand.SEVERE


def gad7_severity(total: int) -> SeverityBand:
    _check_total(GAD7, total)
    if total <= 4:
        return SeverityBand.MINIMAL
    if total <= 9:
        return SeverityBand.MILD
    if total <= 14:
        return SeverityBand.MODERATE
    return SeverityBand.SEVERE


def audit_c_threshold(sex: str | None) -> int:
    """The positive-screen cut-off: 3 for women, 4 otherwise (the conservative default)."""
    return 3 if sex == "female" else 4


def audit_c_severity(total: int, sex: str | None = None) -> SeverityBand:
    _check_total(AUDIT_C, total)
    if total == 0:
        return SeverityBand.NONE
    if total < audit_c_threshold(sex):
        return SeverityBand.MINIMAL
    if total <= 5:
        return SeverityBand.MILD
    if total <= 7:
        return SeverityBand.MODERATE
    return SeverityBand.SEVERE


def _check_total(definition: InstrumentDef, total: int) -> None:
    if isinstance(total, bool) or not isinstance(total, int):
        raise ValueError(f"{definition.name} total must be an integer, got {total!r}")
    if not 0 <= total <= definition.max_total:
        raise ValueError(
            f"{definition.name} total must be between 0 and {definition.max_total}, got {total}"
        )


def phq9_suicide_risk(answers: Sequence[int]) -> bool:
    """True when PHQ-9 item 9 (thoughts of death or self-harm) is answered above 0."""
    return _validated(PHQ9, answers)[PHQ9_SUICIDE_ITEM - 1] > 0


def score_phq9(answers: Sequence[int]) -> Score:
    checked = _validated(PHQ9, answers)
    total = sum(checked)
    return Score(
        Instrument.PHQ9,
        total,
        phq9_severity(total),
        positive=total >= 10,
        suicide_risk=checked[PHQ9_SUICIDE_ITEM - 1] > 0,
    )


def score_gad7(answers: Sequence[int]) -> Score:
    total = sum(_validated(GAD7, answers))
    return Score(Instrument.GAD7, total, gad7_severity(total), positive=total >= 10)


def score_audit_c(answers: Sequence[int], *, sex: str | None = None) -> Score:
    """Score AUDIT-C; ``sex`` is the AdministrativeSex value ("female" lowers the cut-off)."""
    total = sum(_validated(AUDIT_C, answers))
    return Score(
        Instrument.AUDIT_C,
        total,
        audit_c_severity(total, sex),
        positive=total >= audit_c_threshold(sex),
    )


def score(instrument: Instrument | str, answers: Sequence[int], *, sex: str | None = None) -> Score:
    """Score ``answers`` for any instrument this module knows."""
    try:
        kind = Instrument(instrument)
    except ValueError:
        raise ValueError(f"unknown instrument {instrument!r}") from None
    if kind is Instrument.PHQ9:
        return score_phq9(answers)
    if kind is Instrument.GAD7:
        return score_gad7(answers)
    if kind is Instrument.AUDIT_C:
        return score_audit_c(answers, sex=sex)
    raise ValueError(f"no scoring rules for {kind.value!r}; supported: phq9, gad7, audit_c")


def response_items(instrument: Instrument | str, answers: Sequence[int]) -> list[dict[str, Any]]:
    """The ``Assessment.items`` JSON: one ``{linkId, text, answer}`` per item, validated."""
    try:
        definition = DEFINITIONS[Instrument(instrument)]
    except (ValueError, KeyError):
        raise ValueError(f"no item definitions for instrument {instrument!r}") from None
    checked = _validated(definition, answers)
    return [
        {"linkId": item.link_id, "text": item.text, "answer": answer}
        for item, answer in zip(definition.items, checked, strict=True)
    ]
