"""Alumni pages: the program's upcoming events (register or cancel), check-ins, feedback,
and testimonials with a separate, revocable consent to publish.

Reads go through ``PortalAlumni``, writes through the alumni mutations, all run as the
signed-in patient. Ids in URLs name events and testimonials only; one that is not the
patient's (or not their program's) is not found. Patients without an active membership
see a page saying what alumni membership is, not an error.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from backend.access.principal import Principal
from backend.common.errors import InvalidInput
from backend.engagement.testimonials import MAX_BODY, MAX_DISPLAY_NAME, parse_feedback
from portal.operations import OperationFailed, run_operation
from portal.record import signed_in
from portal.web import Portal, csrf_ok, forbidden_form, page, read_form, redirect, text

NOTICES = {
    "registered": "You are registered. See you there!",
    "cancelled": "Your registration is cancelled.",
    "feedback": "Thank you for your feedback.",
    "testimonial": "Thank you for your testimonial. Our team reviews it before anything "
    "is published.",
    "revoked": "Your consent is withdrawn: the testimonial will not be published.",
}
NIL = str(uuid.UUID(int=0))
FIX = "Nothing was sent yet. Please correct the fields marked below."


def routes() -> list[BaseRoute]:
    return [
        Route("/alumni", alumni_page, methods=["GET"]),
        Route("/alumni/events/{event_id}/rsvp", rsvp, methods=["POST"]),
        Route("/alumni/feedback", feedback, methods=["POST"]),
        Route("/alumni/testimonial", testimonial, methods=["POST"]),
        Route("/alumni/testimonials/{review_id}/revoke", revoke, methods=["POST"]),
    ]


def _by_id(items: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items or []}


async def _render(
    portal: Portal,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    submitted: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    data = await run_operation(portal.request, principal, "PortalAlumni", {"id": portal.patient_id})
    patient = data.get("patient") or {}
    active = [m for m in patient.get("alumniMemberships") or [] if m.get("status") == "active"]
    registrations = {a["eventId"]: a["status"] for a in patient.get("alumniEventAttendances") or []}
    reviews = sorted(
        patient.get("reviews") or [], key=lambda r: str(r.get("effectiveAt")), reverse=True
    )
    context = {
        "alumnus": bool(active),
        "programs": list(_by_id(data.get("alumniPrograms")).values()),
        "events": data.get("alumniEvents") or [],
        "registrations": registrations,
        "check_ins": sorted(
            patient.get("alumniCheckIns") or [],
            key=lambda c: str(c.get("checkedInAt")),
            reverse=True,
        )[:20],
        "testimonials": [r for r in reviews if r.get("kind") == "testimonial"],
        "notice": notice,
        "error": error,
        "form": form,
        "errors": errors or {},
        "values": submitted or {},
        "max_body": MAX_BODY,
        "max_name": MAX_DISPLAY_NAME,
    }
    return page(portal, "alumni.html", context, block="alumni", status=status)


async def _done(portal: Portal, principal: Principal, key: str) -> Response:
    if portal.htmx:
        return await _render(portal, principal, notice=NOTICES[key])
    return redirect(portal, f"/portal/alumni?done={key}")


async def _write(
    portal: Portal, principal: Principal, operation: str, variables: dict[str, Any]
) -> Response | None:
    """Run a mutation; a page to show when it was refused, None when it went through."""
    try:
        await run_operation(portal.request, principal, operation, variables)
    except OperationFailed as exc:
        if "NOT_FOUND" in exc.codes:
            return page(
                portal,
                "notice.html",
                {"title": "Not found", "message": "There is nothing to change here."},
                block="content",
                status=404,
            )
        if "CONFLICT" in exc.codes:
            return await _render(
                portal,
                principal,
                error="That could not be done: the event is full, cancelled or over.",
                status=409,
            )
        if "FORBIDDEN" in exc.codes:
            return await _render(
                portal, principal, error="Only alumni members can do this.", status=403
            )
        raise
    return None


def _uuid(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


@signed_in
async def alumni_page(portal: Portal, principal: Principal) -> Response:
    notice = NOTICES.get(portal.request.query_params.get("done", ""))
    return await _render(portal, principal, notice=notice)


@signed_in
async def rsvp(portal: Portal, principal: Principal) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    # A malformed id asks for the nil id: not found, like any id that is not theirs.
    event_id = _uuid(portal.request.path_params["event_id"]) or NIL
    attend = text(form, "attend", 4) == "yes"
    refused = await _write(
        portal, principal, "RsvpAlumniEvent", {"eventId": event_id, "attend": attend}
    )
    if refused is not None:
        return refused
    return await _done(portal, principal, "registered" if attend else "cancelled")


async def _story(portal: Portal, principal: Principal, kind: str) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    values = {
        "rating": text(form, f"{kind}_rating", 8),
        "body": text(form, f"{kind}_body", MAX_BODY + 1),
        "display_name": text(form, f"{kind}_display_name", MAX_DISPLAY_NAME + 1)
        if kind == "testimonial"
        else "",
    }
    consent = text(form, "consent_to_publish", 4) == "yes"
    try:
        parse_feedback(**values)
    except InvalidInput as exc:
        return await _render(
            portal,
            principal,
            error=FIX,
            form=kind,
            errors={f"{kind}_{p.field}": p.message for p in exc.problems},
            submitted={f"{kind}_{k}": v for k, v in values.items()}
            | ({"consent_to_publish": "yes"} if consent else {}),
            status=422,
        )
    if kind == "testimonial":
        refused = await _write(
            portal,
            principal,
            "SubmitTestimonial",
            {
                "input": {
                    "rating": values["rating"],
                    "body": values["body"],
                    "displayName": values["display_name"],
                },
                "consentToPublish": consent,
            },
        )
    else:
        refused = await _write(
            portal,
            principal,
            "SubmitAlumniFeedback",
            {"input": {"rating": values["rating"], "body": values["body"]}},
        )
    if refused is not None:
        return refused
    return await _done(portal, principal, kind)


@signed_in
async def feedback(portal: Portal, principal: Principal) -> Response:
    return await _story(portal, principal, "feedback")


@signed_in
async def testimonial(portal: Portal, principal: Principal) -> Response:
    return await _story(portal, principal, "testimonial")


@signed_in
async def revoke(portal: Portal, principal: Principal) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    review_id = _uuid(portal.request.path_params["review_id"]) or NIL
    refused = await _write(portal, principal, "RevokeTestimonialConsent", {"reviewId": review_id})
    if refused is not None:
        return refused
    return await _done(portal, principal, "revoked")
