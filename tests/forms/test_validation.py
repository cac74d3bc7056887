"""validate_answers and the built-in form definitions (pure functions, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from backend.forms.definitions import (
    BUILT_IN_FORMS,
    GAD7_ITEMS,
    PHQ9_ITEMS,
    form_by_key,
    iter_questions,
    score_answers,
    validate_answers,
)
from backend.forms.validation import QUESTION_TYPES, REQUIRED, UNKNOWN, is_enabled

SCHEMA: dict[str, Any] = {
    "steps": [
        {
            "id": "one",
            "title": "One",
            "questions": [
                {"linkId": "name", "text": "Name", "type": "string", "required": True,
                 "maxLength": 5},
                {"linkId": "age", "text": "Age", "type": "integer", "min": 0, "max": 120},
                {"linkId": "weight", "text": "Weight", "type": "decimal", "min": 1},
                {"linkId": "smoker", "text": "Smoker?", "type": "boolean"},
                {"linkId": "born", "text": "Born", "type": "date", "min": "1900-01-01",
                 "max": "2030-12-31"},
                {"linkId": "color", "text": "Color", "type": "choice",
                 "options": [{"code": "r", "display": "Red"}, {"code": "g", "display": "Green"}]},
                {"linkId": "colors", "text": "Colors", "type": "choice", "repeats": True,
                 "options": [{"code": "r", "display": "Red"}, {"code": "g", "display": "Green"}]},
                {"linkId": "pet", "text": "Pet", "type": "open_choice", "maxLength": 8,
                 "options": [{"code": "dog", "display": "Dog"}]},
                {"linkId": "mail", "text": "E-mail", "type": "email"},
                {"linkId": "tel", "text": "Phone", "type": "phone"},
                {"linkId": "notes", "text": "Notes", "type": "text", "maxLength": 10},
            ],
        },
        {
            "id": "two",
            "title": "Two",
            "questions": [
                {"linkId": "why_smoke", "text": "Why?", "type": "text", "required": True,
                 "enableWhen": [{"question": "smoker", "operator": "=", "answer": True}]},
                {"linkId": "old", "text": "Old?", "type": "boolean", "required": True,
                 "enableBehavior": "any",
                 "enableWhen": [{"question": "age", "operator": ">=", "answer": 65},
                                {"question": "born", "operator": "exists", "answer": True}]},
            ],
        },
    ]
}  # fmt: skip


def test_valid_answers_have_no_errors() -> None:
    answers = {
        "name": "Ann",
        "age": 30,
        "weight": 70.5,
        "smoker": False,
        "born": "1995-04-01",
        "color": "r",
        "colors": ["r", "g"],
        "pet": "iguana",
        "mail": "ann@example.org",
        "tel": "+1 (617) 555-0100",
        "notes": "ok",
        "old": False,
    }
    assert validate_answers(SCHEMA, answers) == {}


@pytest.mark.parametrize(
    ("link_id", "value", "message"),
    [
        ("name", "Annabelle", "Use at most 5 characters."),
        ("name", 12, "Enter text."),
        ("age", "30", "Enter a whole number."),
        ("age", True, "Enter a whole number."),
        ("age", 121, "Must be at most 120."),
        ("age", -1, "Must be at least 0."),
        ("age", 3.5, "Enter a whole number."),
        ("weight", "heavy", "Enter a number."),
        ("weight", 0.5, "Must be at least 1."),
        ("smoker", "yes", "Answer yes or no."),
        ("born", "01/04/1995", "Enter a date as YYYY-MM-DD."),
        ("born", "19950401", "Enter a date as YYYY-MM-DD."),
        ("born", "1850-01-01", "Must be at least 1900-01-01."),
        ("born", "2031-01-01", "Must be at most 2030-12-31."),
        ("color", "blue", "Choose one of the listed options."),
        ("color", ["r"], "Only one answer is allowed."),
        ("colors", ["r", "x"], "Choose one of the listed options."),
        ("pet", "a very long pet", "Use at most 8 characters."),
        ("pet", 3, "Choose one of the listed options."),
        ("mail", "not-an-email", "Enter a valid e-mail address."),
        ("tel", "call me", "Enter a valid phone number."),
        ("tel", "12345", "Enter a valid phone number."),
        ("notes", "x" * 11, "Use at most 10 characters."),
        ("nonsense", "x", UNKNOWN),
    ],
)
def test_each_rule_reports_its_question(link_id: str, value: Any, message: str) -> None:
    answers = {"name": "Ann", "old": False, link_id: value}
    assert validate_answers(SCHEMA, answers) == {link_id: message}


def test_required_counts_only_enabled_questions() -> None:
    assert validate_answers(SCHEMA, {}) == {"name": REQUIRED}
    assert validate_answers(SCHEMA, {"name": "  "}) == {"name": REQUIRED}
    # Turning "smoker" on makes "why_smoke" required; an age of 70 enables "old".
    errors = validate_answers(SCHEMA, {"name": "Ann", "smoker": True, "age": 70})
    assert errors == {"why_smoke": REQUIRED, "old": REQUIRED}
    # Answers to disabled questions are ignored, not errors.
    assert validate_answers(SCHEMA, {"name": "Ann", "why_smoke": 5}) == {}


def test_enable_when_operators() -> None:
    question = {"enableWhen": [{"question": "q", "operator": "!=", "answer": "0"}]}
    assert not is_enabled(question, {})
    assert not is_enabled(question, {"q": "0"})
    assert is_enabled(question, {"q": "2"})
    lt = {"enableWhen": [{"question": "q", "operator": "<", "answer": 3}]}
    assert is_enabled(lt, {"q": 2})
    assert not is_enabled(lt, {"q": "text"})
    absent = {"enableWhen": [{"question": "q", "operator": "exists", "answer": False}]}
    assert is_enabled(absent, {})
    assert not is_enabled(absent, {"q": 1})


def test_built_in_forms_are_well_formed() -> None:
    keys = [form["key"] for form in BUILT_IN_FORMS]
    assert {"intake", "phq9", "gad7", "consent-preferences", "satisfaction"} <= set(keys)
    assert len(keys) == len(set(keys))
    for form in BUILT_IN_FORMS:
        questions = list(iter_questions(form["schema"]))
        link_ids = [q["linkId"] for q in questions]
        assert len(link_ids) == len(set(link_ids)), form["key"]
        for question in questions:
            assert question["type"] in QUESTION_TYPES
            assert question["text"]
            if question["type"] in {"choice", "open_choice"}:
                assert question["options"], question["linkId"]
            for condition in question.get("enableWhen", ()):
                assert condition["question"] in link_ids


def test_intake_has_every_required_step() -> None:
    steps = [step["id"] for step in form_by_key("intake")["schema"]["steps"]]
    assert steps == [
        "demographics",
        "contact",
        "emergency_contact",
        "insurance",
        "reason_for_care",
        "referral_source",
        "medical_history",
        "current_medications",
        "allergies",
        "social_factors",
        "phq9",
        "gad7",
    ]


def test_phq9_and_gad7_keep_the_standard_wording_and_scale() -> None:
    intake = {q["linkId"]: q for q in iter_questions(form_by_key("intake")["schema"])}
    assert intake["phq9_2"]["text"] == "Feeling down, depressed, or hopeless"
    assert intake["phq9_9"]["text"] == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert intake["gad7_2"]["text"] == "Not being able to stop or control worrying"
    assert intake["phq9_1"]["code"]["code"] == "44250-9"
    scale = [(o["code"], o["display"]) for o in intake["gad7_7"]["options"]]
    assert scale == [
        ("0", "Not at all"),
        ("1", "Several days"),
        ("2", "More than half the days"),
        ("3", "Nearly every day"),
    ]
    assert len(PHQ9_ITEMS) == 9
    assert len(GAD7_ITEMS) == 7


def test_scores() -> None:
    answers = {link_id: "2" for link_id, _, _ in PHQ9_ITEMS}
    assert score_answers(answers) == {"phq9": 18}
    answers |= {link_id: "3" for link_id, _, _ in GAD7_ITEMS}
    assert score_answers(answers) == {"phq9": 18, "gad7": 21}
    del answers["gad7_3"]
    assert score_answers(answers) == {"phq9": 18}


def test_satisfaction_ranges() -> None:
    schema = form_by_key("satisfaction")["schema"]
    assert validate_answers(schema, {"nps": 10, "csat": 5}) == {}
    assert validate_answers(schema, {"nps": 11, "csat": 0}) == {
        "nps": "Must be at most 10.",
        "csat": "Must be at least 1.",
    }
