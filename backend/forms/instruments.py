"""Standard instruments (PHQ-9, GAD-7) and the small builders form schemas are written with.

The instruments keep their published wording word for word, with the LOINC code of every
item so responses map to FHIR Observations; changing the wording invalidates the
instrument.
"""

from __future__ import annotations

from typing import Any

from backend.common.types import CodeSystem


def question(link_id: str, text: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    """One question dict; ``extra`` holds the optional keys (options, min, enableWhen ...)."""
    item: dict[str, Any] = {"linkId": link_id, "text": text, "type": kind}
    item["required"] = extra.pop("required", False)
    item.update(extra)
    return item


def options(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"code": code, "display": display} for code, display in pairs]


def loinc(code: str, display: str) -> dict[str, str]:
    return {"system": CodeSystem.LOINC, "code": code, "display": display}


def when(link_id: str, answer: Any, operator: str = "=") -> list[dict[str, Any]]:
    """A one-condition enableWhen."""
    return [{"question": link_id, "operator": operator, "answer": answer}]


FREQUENCY = [
    {"code": "0", "display": "Not at all", "score": 0, "loinc": "LA6568-5"},
    {"code": "1", "display": "Several days", "score": 1, "loinc": "LA6569-3"},
    {"code": "2", "display": "More than half the days", "score": 2, "loinc": "LA6570-1"},
    {"code": "3", "display": "Nearly every day", "score": 3, "loinc": "LA6571-9"},
]
DIFFICULTY = options(
    ("0", "Not difficult at all"),
    ("1", "Somewhat difficult"),
    ("2", "Very difficult"),
    ("3", "Extremely difficult"),
)
PHQ9_INTRO = (
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
)
GAD7_INTRO = "Over the last 2 weeks, how often have you been bothered by the following problems?"
# (linkId, LOINC, exact wording)
PHQ9_ITEMS = (
    ("phq9_1", "44250-9", "Little interest or pleasure in doing things"),
    ("phq9_2", "44255-8", "Feeling down, depressed, or hopeless"),
    ("phq9_3", "44259-0", "Trouble falling or staying asleep, or sleeping too much"),
    ("phq9_4", "44254-1", "Feeling tired or having little energy"),
    ("phq9_5", "44251-7", "Poor appetite or overeating"),
    (
        "phq9_6",
        "44258-2",
        "Feeling bad about yourself \u2014 or that you are a failure or have let yourself "
        "or your family down",
    ),
    (
        "phq9_7",
        "44252-5",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
    ),
    (
        "phq9_8",
        "44253-3",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite "
        "\u2014 being so fidgety or restless that you have been moving around a lot more "
        "than usual",
    ),
    (
        "phq9_9",
        "44260-8",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
)
GAD7_ITEMS = (
    ("gad7_1", "69725-0", "Feeling nervous, anxious, or on edge"),
    ("gad7_2", "68509-9", "Not being able to stop or control worrying"),
    ("gad7_3", "69733-4", "Worrying too much about different things"),
    ("gad7_4", "69734-2", "Trouble relaxing"),
    ("gad7_5", "69735-9", "Being so restless that it is hard to sit still"),
    ("gad7_6", "69689-8", "Becoming easily annoyed or irritable"),
    ("gad7_7", "69736-7", "Feeling afraid, as if something awful might happen"),
)
DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to "
    "do your work, take care of things at home, or get along with other people?"
)


def _instrument_step(
    step_id: str, title: str, intro: str, items: tuple[tuple[str, str, str], ...]
) -> dict[str, Any]:
    questions = [
        question(link_id, text, "choice", required=True, options=FREQUENCY, code=loinc(code, text))
        for link_id, code, text in items
    ]
    questions.append(
        question(
            f"{step_id}_difficulty",
            DIFFICULTY_TEXT,
            "choice",
            options=DIFFICULTY,
            enableWhen=[
                {"question": link_id, "operator": "!=", "answer": "0"} for link_id, _, _ in items
            ],
            enableBehavior="any",
            **({"code": loinc("69722-7", DIFFICULTY_TEXT)} if step_id == "phq9" else {}),
        )
    )
    return {"id": step_id, "title": title, "description": intro, "questions": questions}


PHQ9_STEP = _instrument_step("phq9", "Mood (PHQ-9)", PHQ9_INTRO, PHQ9_ITEMS)
GAD7_STEP = _instrument_step("gad7", "Anxiety (GAD-7)", GAD7_INTRO, GAD7_ITEMS)


def score_answers(answers: dict[str, Any]) -> dict[str, int]:
    """PHQ-9 and GAD-7 totals, for each instrument whose items are all answered."""
    scores: dict[str, int] = {}
    for name, items in (("phq9", PHQ9_ITEMS), ("gad7", GAD7_ITEMS)):
        values = [str(answers.get(link_id)) for link_id, _, _ in items]
        if all(v in {"0", "1", "2", "3"} for v in values):
            scores[name] = sum(int(v) for v in values)
    return scores
