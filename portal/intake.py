"""The intake, one step per page: start or resume, each step, review, submit, done.

Every read and write is a named GraphQL operation run as the signed-in patient
(PortalIntake, StartIntake, SaveIntakeStep, SubmitIntake), so the policy and the audit
trail treat the portal like any client. The pages are generic: the form's steps come
from its definition (data) and each question is drawn by the macro for its type, so a
new form version needs no template change.

The response id in the URL is only ever checked, never trusted: another patient's id
answers NOT_FOUND from the API and a 404 page here. Without JavaScript every step is a
plain POST and a 303 to the next page; with htmx the same view answers with the ``intake``
block of the next page (and pushes its URL), and with the same step plus inline errors
when something is wrong. A refused step re-renders what was typed, not what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData
from starlette.responses import Response

from backend.access.principal import Principal
from portal.operations import OperationFailed, run_operation
from portal.record import signed_in
from portal.web import Portal, csrf_ok, forbidden_form, page, read_form, redirect

BASE = "/portal/intake"
FIELD_LIMIT = 10_000  # longer than any maxLength: an over-long answer gets its own error
FIX_BELOW = "Please correct the answers marked below."
NOT_SAVED = (
    "We could not save this step just now. Your answers are still on this page: please "
    "try again in a moment."
)
_INTEGER = re.compile(r"^[+-]?\d{1,12}$")
_DECIMAL = re.compile(r"^[+-]?\d{1,12}(\.\d{1,6})?$")
_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


def parse_answers(step: Mapping[str, Any], form: FormData) -> dict[str, Any]:
    """The step's answers from a form post, typed for validation; a value that does not
    convert stays text so validation names the field (``Enter a whole number.``)."""
    answers: dict[str, Any] = {}
    for question in step["questions"]:
        link_id, kind = question["linkId"], question.get("type", "string")
        if question.get("repeats"):
            values = [v for v in form.getlist(link_id) if isinstance(v, str) and v]
            answers[link_id] = [v[:FIELD_LIMIT] for v in values] or None
            continue
        raw = form.get(link_id)
        value = raw.strip()[:FIELD_LIMIT] if isinstance(raw, str) else ""
        if kind == "open_choice":  # the page offers displays; a chosen one is its code
            value = _code_of(question, value)
        answers[link_id] = _typed(kind, value)
    return answers


def _code_of(question: Mapping[str, Any], value: str) -> str:
    wanted = value.casefold()
    for option in question.get("options") or ():
        if str(option["display"]).casefold() == wanted:
            return str(option["code"])
    return value


def _typed(kind: str, value: str) -> Any:
    if value == "":
        return None
    if kind == "boolean":
        return {"yes": True, "no": False}.get(value, value)
    if kind == "integer" and _INTEGER.match(value):
        return int(value)
    if kind == "decimal" and _DECIMAL.match(value):
        return float(value)
    return value


def prefill(patient: Mapping[str, Any] | None) -> dict[str, Any]:
    """Answers the record already gives (the patient confirms or corrects them)."""
    if not patient:
        return {}
    found: dict[str, Any] = {
        "given_name": patient.get("givenName"),
        "family_name": patient.get("familyName"),
        "preferred_name": patient.get("preferredName"),
        "birth_date": patient.get("birthDate"),
        "sex": patient.get("sex"),
        "gender_identity": patient.get("genderIdentity"),
        "pronouns": patient.get("pronouns"),
        "language": patient.get("language"),
        "interpreter_needed": patient.get("interpreterNeeded"),
    }
    points = sorted(patient.get("contactPoints") or [], key=lambda p: p.get("rank") or 9)
    for system, link_id in (("phone", "phone"), ("email", "email")):
        point = next((p for p in points if p.get("system") == system and p.get("value")), None)
        if point:
            found[link_id] = point["value"]
            if system == "phone" and point.get("use") in {"mobile", "home", "work"}:
                found["phone_type"] = point["use"]
    home = next((a for a in patient.get("addresses") or [] if a.get("use") == "home"), None)
    if home:
        found.update(
            address_line1=home.get("line1"),
            address_line2=home.get("line2"),
            city=home.get("city"),
            state=home.get("state"),
            postal_code=home.get("postalCode"),
        )
    # The primary contact (the list comes primary first); whether they may be told is
    # asked anew each time: it is not stored on the contact.
    contacts = patient.get("emergencyContacts") or []
    contact = next((c for c in contacts if c.get("isPrimary") and c.get("name")), None)
    if contact:
        found.update(
            ec_name=contact["name"],
            ec_relationship=contact.get("relationshipToPatient"),
            ec_phone=contact.get("phone"),
        )
    return {k: v for k, v in found.items() if v not in (None, "")}


def _valid_id(raw: str) -> bool:
    return bool(_ID.match(raw))


async def _read(portal: Portal, principal: Principal, response_id: str | None) -> dict[str, Any]:
    """The intake and the record it is prefilled from."""
    data = await run_operation(
        portal.request,
        principal,
        "PortalIntake",
        {"id": portal.patient_id, "responseId": response_id},
    )
    return data


async def _read_form(portal: Portal, principal: Principal, response_id: str) -> dict[str, Any]:
    """The intake alone: a POST re-renders what was typed, it needs no prefill."""
    return await run_operation(
        portal.request, principal, "PortalIntakeForm", {"responseId": response_id}
    )


def _not_found(portal: Portal) -> Response:
    return page(
        portal,
        "notice.html",
        {"title": "Not found", "message": "There is nothing to show here."},
        block="content",
        status=404,
    )


def with_conditions(step: Mapping[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The step with each conditional question's condition in words (``whenText``):
    without JavaScript every question shows, so the patient reads when one applies."""
    questions = {q["linkId"]: q for s in steps for q in s["questions"]}
    shown = []
    for question in step["questions"]:
        conditions = question.get("enableWhen") or []
        words = [_condition_words(c, questions) for c in conditions]
        if not conditions:
            shown.append(question)
            continue
        text = "Only if it applies to you."
        if len(words) <= 2 and all(words):
            joiner = " or " if question.get("enableBehavior") == "any" else " and "
            text = "Only if " + joiner.join(w for w in words if w) + "."
        shown.append({**question, "whenText": text})
    return {**step, "questions": shown}


def _condition_words(condition: Mapping[str, Any], questions: Mapping[str, Any]) -> str | None:
    other = questions.get(condition.get("question", ""))
    if other is None:
        return None
    answer = condition.get("answer")
    said = answer_words(other, answer)
    operator = condition.get("operator", "=")
    if operator == "=":
        return f"you answered \u201c{said}\u201d to \u201c{other['text']}\u201d"
    if operator == "!=":
        return f"your answer to \u201c{other['text']}\u201d is not \u201c{said}\u201d"
    if operator == "exists" and answer:
        return f"you answered \u201c{other['text']}\u201d"
    return None


def _step_nav(steps: list[dict[str, Any]], step_id: str) -> tuple[int, str | None, str | None]:
    ids = [s["id"] for s in steps]
    index = ids.index(step_id)
    previous = ids[index - 1] if index > 0 else None
    following = ids[index + 1] if index + 1 < len(ids) else None
    return index, previous, following


def _render_step(
    portal: Portal,
    data: dict[str, Any],
    step_id: str,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    intake = data["myIntake"]
    steps: list[dict[str, Any]] = intake["steps"]
    step = with_conditions(next(s for s in steps if s["id"] == step_id), steps)
    index, previous, _ = _step_nav(steps, step_id)
    shown = {**prefill(data.get("patient")), **intake["answers"]}
    if values is not None:
        shown.update(values)
    context = {
        "intake": intake,
        "step": step,
        "steps": steps,
        "number": index + 1,
        "previous": f"{BASE}/{intake['id']}/{previous}" if previous else None,
        "action": f"{BASE}/{intake['id']}/{step_id}",
        "values": shown,
        "errors": errors or {},
        "error": error or (FIX_BELOW if errors else None),
        "crisis_text": portal.settings.crisis_line_text,
        "step_title": step["title"],
    }
    response = page(portal, "intake/step.html", context, block="intake", status=status)
    if portal.htmx and status == 200:
        response.headers["HX-Push-Url"] = f"{BASE}/{intake['id']}/{step_id}"
    return response


@signed_in
async def intake_home(portal: Portal, principal: Principal) -> Response:
    data = await _read(portal, principal, None)
    return page(
        portal,
        "intake/start.html",
        {"intake": data["myIntake"], "name": (data.get("patient") or {}).get("givenName")},
    )


@signed_in
async def start(portal: Portal, principal: Principal) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    data = await run_operation(portal.request, principal, "StartIntake")
    intake = data["startIntake"]
    return redirect(portal, f"{BASE}/{intake['id']}/{intake['currentStep']}")


@signed_in
async def step_page(portal: Portal, principal: Principal) -> Response:
    response_id, step_id = _path(portal)
    if response_id is None:
        return _not_found(portal)
    data = await _read(portal, principal, response_id)
    intake = data["myIntake"]
    if intake["status"] != "in_progress":
        return redirect(portal, f"{BASE}/{response_id}/done")
    if step_id not in {s["id"] for s in intake["steps"]}:
        return _not_found(portal)
    return _render_step(portal, data, step_id)


@signed_in
async def save(portal: Portal, principal: Principal) -> Response:
    response_id, step_id = _path(portal)
    if response_id is None:
        return _not_found(portal)
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    data = await _read_form(portal, principal, response_id)
    intake = data["myIntake"]
    if intake["status"] != "in_progress":
        return redirect(portal, f"{BASE}/{response_id}/done")
    step = next((s for s in intake["steps"] if s["id"] == step_id), None)
    if step is None:
        return _not_found(portal)
    answers = parse_answers(step, form)
    try:
        result = await run_operation(
            portal.request,
            principal,
            "SaveIntakeStep",
            {"input": {"responseId": response_id, "step": step_id, "answers": answers}},
        )
    except OperationFailed as exc:
        if "NOT_FOUND" in exc.codes:
            raise
        # Not saved (the database was busy, say): show the page again with what was typed.
        return _render_step(portal, data, step_id, values=answers, error=NOT_SAVED, status=503)
    outcome = result["saveIntakeStep"]
    if outcome["problems"]:
        errors = {p["field"]: p["message"] for p in outcome["problems"]}
        submitted = {k: v for k, v in answers.items()}
        return _render_step(portal, data, step_id, values=submitted, errors=errors, status=422)
    _, _, following = _step_nav(intake["steps"], step_id)
    if portal.htmx:  # the next page's block in place of this one: no full reload
        fresh = await _read(portal, principal, response_id)
        if following:
            return _render_step(portal, fresh, following)
        return _render_review(portal, fresh)
    return redirect(portal, f"{BASE}/{response_id}/{following or 'review'}")


def _render_review(
    portal: Portal, data: dict[str, Any], *, error: str | None = None, status: int = 200
) -> Response:
    intake = data["myIntake"]
    context = {
        "intake": intake,
        "sections": review_sections(intake["steps"], intake["answers"]),
        "problems": {p["field"]: p["message"] for p in intake["problems"]},
        "error": error,
        "crisis_text": portal.settings.crisis_line_text,
        "action": f"{BASE}/{intake['id']}/submit",
    }
    response = page(portal, "intake/review.html", context, block="intake", status=status)
    if portal.htmx and status == 200:
        response.headers["HX-Push-Url"] = f"{BASE}/{intake['id']}/review"
    return response


def review_sections(
    steps: list[dict[str, Any]], answers: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each step with its answered questions as (question, answer in words)."""
    sections = []
    for step in steps:
        rows = []
        for question in step["questions"]:
            value = answers.get(question["linkId"])
            if value is None or value == []:
                continue
            rows.append({"id": question["linkId"], "text": question["text"],
                         "answer": answer_words(question, value)})  # fmt: skip
        sections.append({"id": step["id"], "title": step["title"], "rows": rows})
    return sections


def answer_words(question: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    labels = {str(o["code"]): o["display"] for o in question.get("options") or ()}
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(str(v), str(v)) for v in values)


@signed_in
async def review(portal: Portal, principal: Principal) -> Response:
    response_id, _ = _path(portal)
    if response_id is None:
        return _not_found(portal)
    data = await _read(portal, principal, response_id)
    if data["myIntake"]["status"] != "in_progress":
        return redirect(portal, f"{BASE}/{response_id}/done")
    return _render_review(portal, data)


@signed_in
async def submit(portal: Portal, principal: Principal) -> Response:
    response_id, _ = _path(portal)
    if response_id is None:
        return _not_found(portal)
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    try:
        await run_operation(portal.request, principal, "SubmitIntake", {"responseId": response_id})
    except OperationFailed as exc:
        if "NOT_FOUND" in exc.codes:
            raise
        if "BAD_USER_INPUT" not in exc.codes:  # the transaction rolled back as a whole
            return page(
                portal,
                "notice.html",
                {
                    "title": "Your intake was not submitted",
                    "message": "Something went wrong and nothing was changed. Your answers "
                    "are still saved: please try again in a moment.",
                },
                block="content",
                status=503,
            )
        data = await _read_form(portal, principal, response_id)
        return _render_review(
            portal,
            data,
            error="Some answers are missing or need a change: see the marked steps.",
            status=422,
        )
    return redirect(portal, f"{BASE}/{response_id}/done")


@signed_in
async def done(portal: Portal, principal: Principal) -> Response:
    response_id, _ = _path(portal)
    if response_id is None:
        return _not_found(portal)
    data = await _read(portal, principal, response_id)
    intake = data["myIntake"]
    if intake["status"] == "in_progress":
        return redirect(portal, f"{BASE}/{response_id}/review")
    return page(
        portal,
        "intake/done.html",
        {"intake": intake, "crisis_text": portal.settings.crisis_line_text},
    )


def _path(portal: Portal) -> tuple[str | None, str]:
    params = portal.request.path_params
    response_id = str(params.get("response_id", ""))
    return (response_id if _valid_id(response_id) else None), str(params.get("step", ""))
