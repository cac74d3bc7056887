"""PHQ-9, GAD-7 and AUDIT-C scoring: totals, bands, cut-offs, the item-9 flag, validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backend.clinical.scoring import (
    Instrument,
    SeverityBand,
    audit_c_severity,
    gad7_severity,
    phq9_severity,
    phq9_suicide_risk,
    response_items,
    score,
    score_audit_c,
    score_gad7,
    score_phq9,
)

# Answers arrive from submitted forms, so the scorers check item types at run time. These are
# deliberately typed Any: the signature would (rightly) refuse them before that check runs.
HALF_POINT_ANSWER: Any = [1, 1, 1, 1, 1.5, 1, 1, 1, 1]
ANSWERS_AS_TEXT: Any = "000000000"


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, SeverityBand.MINIMAL),
        (4, SeverityBand.MINIMAL),
        (5, SeverityBand.MILD),
        (9, SeverityBand.MILD),
        (10, SeverityBand.MODERATE),
        (14, SeverityBand.MODERATE),
        (15, SeverityBand.MODERATELY_SEVERE),
        (19, SeverityBand.MODERATELY_SEVERE),
        (20, SeverityBand.SEVERE),
        (27, SeverityBand.SEVERE),
    ],
)
def test_phq9_band_edges(total: int, band: SeverityBand) -> None:
    assert phq9_severity(total) is band


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, SeverityBand.MINIMAL),
        (4, SeverityBand.MINIMAL),
        (5, SeverityBand.MILD),
        (9, SeverityBand.MILD),
        (10, SeverityBand.MODERATE),
        (14, SeverityBand.MODERATE),
        (15, SeverityBand.SEVERE),
        (21, SeverityBand.SEVERE),
    ],
)
def test_gad7_band_edges(total: int, band: SeverityBand) -> None:
    assert gad7_severity(total) is band


def test_phq9_scores_sum_band_and_cutoff() -> None:
    result = score_phq9([2, 2, 1, 2, 1, 1, 1, 0, 0])
    assert result.instrument is Instrument.PHQ9
    assert result.total == 10
    assert result.severity is SeverityBand.MODERATE
    assert result.positive is True
    assert result.suicide_risk is False
    below = score_phq9([1, 1, 1, 1, 1, 1, 1, 2, 0])
    assert (below.total, below.positive) == (9, False)


def test_phq9_item9_flags_suicide_risk_whatever_the_total() -> None:
    answers = [0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert phq9_suicide_risk(answers) is True
    result = score_phq9(answers)
    assert result.total == 1
    assert result.severity is SeverityBand.MINIMAL
    assert result.suicide_risk is True
    assert phq9_suicide_risk([3, 3, 3, 3, 3, 3, 3, 3, 0]) is False


def test_gad7_scores() -> None:
    result = score_gad7([3, 3, 3, 3, 3, 3, 3])
    assert (result.total, result.severity, result.positive) == (21, SeverityBand.SEVERE, True)
    assert result.suicide_risk is False
    assert score_gad7([1, 1, 1, 1, 1, 1, 0]).severity is SeverityBand.MILD


@pytest.mark.parametrize(
    ("answers", "sex", "band", "positive"),
    [
        ([0, 0, 0], None, SeverityBand.NONE, False),
        ([1, 1, 0], "male", SeverityBand.MINIMAL, False),
        ([1, 1, 1], "male", SeverityBand.MINIMAL, False),
        ([1, 1, 1], "female", SeverityBand.MILD, True),
        ([2, 1, 1], "male", SeverityBand.MILD, True),
        ([3, 2, 1], "male", SeverityBand.MODERATE, True),
        ([4, 4, 4], "female", SeverityBand.SEVERE, True),
    ],
)
def test_audit_c_cutoff_depends_on_sex(
    answers: list[int], sex: str | None, band: SeverityBand, positive: bool
) -> None:
    result = score_audit_c(answers, sex=sex)
    assert result.total == sum(answers)
    assert result.severity is band
    assert result.positive is positive


def test_audit_c_severity_defaults_to_the_male_cutoff() -> None:
    assert audit_c_severity(3) is SeverityBand.MINIMAL
    assert audit_c_severity(3, "female") is SeverityBand.MILD


def test_dispatcher_accepts_enum_and_string() -> None:
    assert score("phq9", [1] * 9).total == 9
    assert score(Instrument.GAD7, [2] * 7).total == 14
    assert score("audit_c", [1, 1, 1], sex="female").positive is True


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: score_phq9([1] * 8), "PHQ-9 needs exactly 9 answers, got 8"),
        (lambda: score_phq9([1] * 10), "PHQ-9 needs exactly 9 answers, got 10"),
        (lambda: score_gad7([0, 0, 0, 4, 0, 0, 0]), "GAD-7 item 4: answer must be between 0 and 3"),
        (lambda: score_gad7([0, 0, 0, 0, 0, 0, -1]), "GAD-7 item 7: answer must be between"),
        (lambda: score_audit_c([5, 0, 0]), "AUDIT-C item 1: answer must be between 0 and 4"),
        (lambda: score_audit_c([1, 1]), "AUDIT-C needs exactly 3 answers"),
        (lambda: score_phq9(HALF_POINT_ANSWER), "item 5: answer must be an integer"),
        (lambda: score_phq9([True, 0, 0, 0, 0, 0, 0, 0, 0]), "item 1: answer must be an integer"),
        (lambda: score_phq9(ANSWERS_AS_TEXT), "answers must be a list of integers"),
        (lambda: phq9_suicide_risk([0] * 3), "PHQ-9 needs exactly 9 answers"),
        (lambda: phq9_severity(28), "PHQ-9 total must be between 0 and 27"),
        (lambda: gad7_severity(-1), "GAD-7 total must be between 0 and 21"),
        (lambda: score("pcl5", [0] * 20), "no scoring rules for 'pcl5'"),
        (lambda: score("bdi", [0] * 21), "unknown instrument 'bdi'"),
        (lambda: response_items("cssrs", [0]), "no item definitions"),
    ],
)
def test_invalid_input_raises_clear_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()


def test_response_items_follow_fhir_questionnaire_response() -> None:
    items = response_items(Instrument.PHQ9, [0, 1, 2, 3, 0, 1, 2, 3, 1])
    assert len(items) == 9
    assert items[0] == {
        "linkId": "44250-9",
        "text": "Little interest or pleasure in doing things",
        "answer": 0,
    }
    assert items[8]["linkId"] == "44260-8"
    assert items[8]["answer"] == 1
    assert [i["linkId"] for i in response_items("audit_c", [0, 1, 2])] == [
        "68518-0",
        "68519-8",
        "68520-6",
    ]
