"""Satisfaction surveys: answered from a one-time link without signing in, or in the portal.

The link form (``/portal/survey/{token}``) has no session, so the portal's CSRF token
(an HMAC of a cookie) protects nothing there: a forged cross-site post would need the
link's token, which only its holder has, and the browser's ``Origin`` must be ours on
top (a page elsewhere cannot post it for them). Unknown, expired and used links get one
and the same page: a guessed token learns nothing. Pages that carry a token in their URL
send ``Referrer-Policy: same-origin`` so it does not leak to any other site.

Signed in, the patient's open surveys are read through ``PortalSurveys`` and answered
through the ``AnswerSurvey`` mutation; an invitation id that is not theirs is not found.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backend.access.principal import Principal
from backend.common.errors import InvalidInput
from backend.engagement.surveys import (
    MAX_COMMENT,
    SurveyAnswers,
    answer_by_link,
    open_survey,
    parse_answers,
)
from portal.operations import OperationFailed, run_operation
from portal.record import signed_in
from portal.web import (
    Portal,
    _same_origin,
    address_of,
    csrf_ok,
    forbidden_form,
    in_transaction,
    load,
    page,
    read_form,
    redirect,
    text,
)

# Not "no-referrer": Chromium then sends "Origin: null" on the form post itself.
NO_REFERRER = {"Referrer-Policy": "same-origin"}
CLOSED_TITLE = "This survey cannot be answered"
CLOSED_MESSAGE = (
    "This survey has already been answered, or its link is no longer valid. Thank you: "
    "there is nothing more to do."
)
FIX = "Nothing was sent yet. Please correct the answers marked below."


def _closed(portal: Portal, *, status: int = 410) -> Response:
    response = page(
        portal,
        "notice.html",
        {"title": CLOSED_TITLE, "message": CLOSED_MESSAGE},
        block="content",
        status=status,
    )
    response.headers.update(NO_REFERRER)
    return response


def _form(
    portal: Portal,
    action: str,
    *,
    errors: dict[str, str] | None = None,
    submitted: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "action": action,
        "errors": errors or {},
        "values": submitted or {"nps": "", "csat": "", "comments": ""},
        "max_comment": MAX_COMMENT,
        "error": FIX if errors else None,
    }
    response = page(portal, "survey.html", context, block="survey", status=status)
    response.headers.update(NO_REFERRER)
    return response


def _submitted(form: Any) -> dict[str, str]:
    # Cut generously above the limit: an over-long comment is refused, not truncated.
    return {
        "nps": text(form, "nps", 8),
        "csat": text(form, "csat", 8),
        "comments": text(form, "comments", MAX_COMMENT + 1),
    }


def _parse(values: dict[str, str]) -> SurveyAnswers | dict[str, str]:
    try:
        return parse_answers(**values)
    except InvalidInput as exc:
        return {p.field: p.message for p in exc.problems}


def _thanks(portal: Portal) -> Response:
    return page(portal, "survey_thanks.html", {}, block="content")


async def link_page(request: Request) -> Response:
    portal = await load(request)
    token = request.path_params["token"]
    live = await in_transaction(request, lambda s: open_survey(session=s, token=token))
    if not live:
        return _closed(portal)
    return _form(portal, request.url.path)


async def answer_link(request: Request) -> Response:
    portal = await load(request)
    token = request.path_params["token"]
    # The token is the credential here (see the module docstring); Origin must be ours.
    form = await read_form(request)
    if form is None or not _same_origin(request):
        return forbidden_form(portal)
    values = _submitted(form)
    parsed = _parse(values)
    if isinstance(parsed, dict):
        live = await in_transaction(request, lambda s: open_survey(session=s, token=token))
        if not live:
            return _closed(portal)
        return _form(portal, request.url.path, errors=parsed, submitted=values, status=422)
    address = address_of(request)
    answered = await in_transaction(
        request,
        lambda s: answer_by_link(session=s, token=token, answers=parsed, address=address),
    )
    if not answered:
        return _closed(portal)
    return redirect(portal, "/portal/survey/thanks")


async def thanks_page(request: Request) -> Response:
    return _thanks(await load(request))


async def _open_surveys(portal: Portal, principal: Principal) -> list[dict[str, Any]]:
    data = await run_operation(
        portal.request, principal, "PortalSurveys", {"id": portal.patient_id}
    )
    now = datetime.now(UTC)
    found = []
    for item in (data.get("patient") or {}).get("surveyInvitations") or []:
        expires = item.get("expiresAt")
        if item.get("usedAt") or not expires or datetime.fromisoformat(expires) <= now:
            continue
        found.append(item)
    found.sort(key=lambda i: str(i.get("expiresAt")))
    return found


@signed_in
async def surveys_page(portal: Portal, principal: Principal) -> Response:
    answered = portal.request.query_params.get("answered") == "1"
    surveys = await _open_surveys(portal, principal)
    return page(portal, "surveys.html", {"surveys": surveys, "answered": answered})


def _invitation_id(portal: Portal) -> uuid.UUID | None:
    try:
        return uuid.UUID(portal.request.path_params["invitation_id"])
    except ValueError:
        return None


def _not_found(portal: Portal) -> Response:
    return page(
        portal,
        "notice.html",
        {"title": "Not found", "message": "There is no open survey here."},
        block="content",
        status=404,
    )


@signed_in
async def survey_page(portal: Portal, principal: Principal) -> Response:
    wanted = _invitation_id(portal)
    surveys = await _open_surveys(portal, principal)
    if wanted is None or str(wanted) not in {s["id"] for s in surveys}:
        return _not_found(portal)
    return _form(portal, portal.request.url.path)


@signed_in
async def answer_survey(portal: Portal, principal: Principal) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    wanted = _invitation_id(portal)
    if wanted is None:
        return _not_found(portal)
    values = _submitted(form)
    parsed = _parse(values)
    if isinstance(parsed, dict):
        return _form(portal, portal.request.url.path, errors=parsed, submitted=values, status=422)
    try:
        data = await run_operation(
            portal.request,
            principal,
            "AnswerSurvey",
            {"input": {"invitationId": str(wanted), **values}},
        )
    except OperationFailed as exc:
        if "NOT_FOUND" in exc.codes:
            return _not_found(portal)
        raise
    if not data["answerSurvey"]["answered"]:
        return _closed(portal, status=409)
    return redirect(portal, "/portal/surveys?answered=1")
