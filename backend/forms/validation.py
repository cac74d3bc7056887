"""Checking answers against a form's schema: a pure function the portal, the GraphQL API
and importers share, so a form is validated the same way wherever it is submitted.

Answers are JSON values keyed by linkId, already parsed: ``str`` for string, text, email,
phone, date (ISO ``YYYY-MM-DD``) and choice codes; ``int`` for integer; ``int``/``float``
for decimal; ``bool`` for boolean; a ``list`` of codes for a repeating choice. Converting
form-post strings into these types is the transport's job, before calling here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

QUESTION_TYPES = frozenset(
    {
        "string",
        "text",
        "integer",
        "decimal",
        "boolean",
        "date",
        "choice",
        "open_choice",
        "email",
        "phone",
    }
)
REQUIRED = "This question is required."
UNKNOWN = "This question is not part of the form."

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-]+$")


def iter_questions(schema: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every question of a schema, in step order."""
    for step in schema.get("steps", ()):
        yield from step.get("questions", ())


def is_empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def is_enabled(question: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """FHIR enableWhen: is the question shown, given the other answers?"""
    conditions = question.get("enableWhen") or []
    if not conditions:
        return True
    results = (_condition_holds(c, answers) for c in conditions)
    return any(results) if question.get("enableBehavior") == "any" else all(results)


def _condition_holds(condition: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    actual = answers.get(condition["question"])
    operator = condition.get("operator", "=")
    expected = condition.get("answer")
    if operator == "exists":
        return (not is_empty(actual)) is bool(expected)
    if is_empty(actual):
        return False
    values: list[Any] = actual if isinstance(actual, list) else [actual]
    if operator == "=":
        return expected in values
    if operator == "!=":
        return expected not in values
    try:
        if operator == ">":
            return any(v > expected for v in values)
        if operator == ">=":
            return any(v >= expected for v in values)
        if operator == "<":
            return any(v < expected for v in values)
        if operator == "<=":
            return any(v <= expected for v in values)
    except TypeError:  # an answer of the wrong type never enables anything
        return False
    raise ValueError(f"unknown enableWhen operator {operator!r}")


def validate_answers(
    definition_schema: Mapping[str, Any], answers: Mapping[str, Any]
) -> dict[str, str]:
    """Return ``{linkId: error message}`` for every answer that breaks the schema.

    Checks required questions (only those enabled by ``enableWhen``), value types, numeric
    and date ``min``/``max``, ``options`` of choice questions and ``maxLength``. Answers to
    questions the schema does not have are errors; answers to disabled questions are
    ignored (the caller drops them when saving). An empty dict means the answers are valid.
    """
    errors: dict[str, str] = {}
    known: set[str] = set()
    for question in iter_questions(definition_schema):
        link_id = question["linkId"]
        known.add(link_id)
        if not is_enabled(question, answers):
            continue
        value = answers.get(link_id)
        if is_empty(value):
            if question.get("required"):
                errors[link_id] = REQUIRED
            continue
        message = _check_value(question, value)
        if message:
            errors[link_id] = message
    for link_id in answers:
        if link_id not in known:
            errors[link_id] = UNKNOWN
    return errors


def _check_value(question: Mapping[str, Any], value: Any) -> str | None:
    kind = question.get("type", "string")
    if kind not in QUESTION_TYPES:
        raise ValueError(f"question {question['linkId']!r} has unknown type {kind!r}")
    if isinstance(value, list):
        if not (question.get("repeats") and kind in {"choice", "open_choice"}):
            return "Only one answer is allowed."
        for item in value:
            message = _check_single(question, kind, item)
            if message:
                return message
        return None
    return _check_single(question, kind, value)


def _check_single(question: Mapping[str, Any], kind: str, value: Any) -> str | None:
    if kind in {"choice", "open_choice"}:
        codes = {str(option["code"]) for option in question.get("options", ())}
        if isinstance(value, str) and value in codes:
            return None
        if kind == "choice" or not isinstance(value, str):
            return "Choose one of the listed options."
        return _check_text(question, value)  # open_choice: free text allowed
    if kind in {"string", "text"}:
        if not isinstance(value, str):
            return "Enter text."
        return _check_text(question, value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "Enter a whole number."
        return _check_range(question, value)
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "Enter a number."
        return _check_range(question, value)
    if kind == "boolean":
        return None if isinstance(value, bool) else "Answer yes or no."
    if kind == "date":
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None or len(value) != 10:
            return "Enter a date as YYYY-MM-DD."
        return _check_range(question, day, parse=date.fromisoformat)
    if kind == "email":
        if not isinstance(value, str) or not _EMAIL.match(value):
            return "Enter a valid e-mail address."
        return _check_text(question, value)
    # phone
    digits = sum(ch.isdigit() for ch in value) if isinstance(value, str) else 0
    if not isinstance(value, str) or not _PHONE_CHARS.match(value) or not 7 <= digits <= 15:
        return "Enter a valid phone number."
    return _check_text(question, value)


def _check_text(question: Mapping[str, Any], value: str) -> str | None:
    limit = question.get("maxLength")
    if limit is not None and len(value) > limit:
        return f"Use at most {limit} characters."
    return None


def _check_range(question: Mapping[str, Any], value: Any, parse: Any = None) -> str | None:
    low, high = question.get("min"), question.get("max")
    if parse is not None:
        low = parse(low) if low is not None else None
        high = parse(high) if high is not None else None
    if low is not None and value < low:
        return f"Must be at least {low}."
    if high is not None and value > high:
        return f"Must be at most {high}."
    return None
