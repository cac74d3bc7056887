"""My record: home, appointments, care plan, messages, and who looked at the record.

Every page reads through a named GraphQL operation run as the signed-in patient, so the
``patient`` role's policy decides what appears and every read is audited. No page takes
a patient id from the URL or a form: the only patient is the principal's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backend.access.principal import Principal
from portal.operations import OperationFailed, run_operation
from portal.web import Portal, clear_session_cookie, load, page, redirect

ACCESS_PAGE = 50
ACCESS_MAX = 200
View = Callable[[Portal, Principal], Awaitable[Response]]


def signed_in(view: View) -> Callable[[Request], Awaitable[Response]]:
    """Run ``view`` for a signed-in patient; everyone else goes to the sign-in page."""

    async def endpoint(request: Request) -> Response:
        portal = await load(request)
        if portal.principal is None:
            response = redirect(portal, "/portal/sign-in?notice=expired")
            if request.cookies:
                clear_session_cookie(portal, response)
            return response
        try:
            return await view(portal, portal.principal)
        except OperationFailed as exc:
            if "INTERNAL" in exc.codes:
                # The read could not be audited (or failed): nothing was shown, say so.
                return page(
                    portal,
                    "notice.html",
                    {
                        "title": "Please try again",
                        "message": "We could not load this page just now. Please try again "
                        "in a moment.",
                    },
                    block="content",
                    status=503,
                )
            if "NOT_FOUND" in exc.codes:
                # Their own record vanished (merged or deleted): nothing to show here.
                return page(
                    portal,
                    "notice.html",
                    {"title": "Not found", "message": "There is nothing to show here."},
                    block="content",
                    status=404,
                )
            raise

    return endpoint


async def _patient(portal: Portal, operation: str, **variables: Any) -> dict[str, Any]:
    data = await run_operation(
        portal.request, _principal(portal), operation, {"id": portal.patient_id, **variables}
    )
    found: dict[str, Any] = data.get("patient") or {}
    return found


def _principal(portal: Portal) -> Principal:
    assert portal.principal is not None
    return portal.principal


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_appointments(
    items: list[dict[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(upcoming soonest first, past latest first); cancelled ones count as past."""
    upcoming, past = [], []
    for item in items:
        start = _parse(item.get("startAt"))
        active = item.get("status") not in {"cancelled", "no_show", "completed", "entered_in_error"}
        if start is not None and start >= now and active:
            upcoming.append(item)
        else:
            past.append(item)
    upcoming.sort(key=lambda a: a.get("startAt") or "")
    past.sort(key=lambda a: a.get("startAt") or "", reverse=True)
    return upcoming, past


def _display_name(patient: dict[str, Any]) -> str:
    return str(patient.get("preferredName") or patient.get("givenName") or "there")


@signed_in
async def home(portal: Portal, principal: Principal) -> Response:
    me = await _patient(portal, "PortalHome")
    upcoming, _ = split_appointments(me.get("appointments") or [], datetime.now(UTC))
    return page(
        portal,
        "home.html",
        {
            "name": _display_name(me),
            "next_appointment": upcoming[0] if upcoming else None,
            "notice": None,
        },
    )


@signed_in
async def appointments(portal: Portal, principal: Principal) -> Response:
    data = await _patient(portal, "PortalAppointments")
    upcoming, past = split_appointments(data.get("appointments") or [], datetime.now(UTC))
    return page(portal, "appointments.html", {"upcoming": upcoming, "past": past})


@signed_in
async def care_plan(portal: Portal, principal: Principal) -> Response:
    data = await _patient(portal, "PortalCarePlan")
    return page(portal, "care_plan.html", {"plans": data.get("carePlans") or []})


@signed_in
async def messages(portal: Portal, principal: Principal) -> Response:
    data = await _patient(portal, "PortalMessages")
    return page(portal, "messages.html", {"messages": data.get("communications") or []})


def _first(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or ACCESS_PAGE), ACCESS_MAX))
    except ValueError:
        return ACCESS_PAGE


@signed_in
async def access(portal: Portal, principal: Principal) -> Response:
    first = _first(portal.request.query_params.get("first"))
    data = await run_operation(
        portal.request,
        principal,
        "PortalRecordAccess",
        {"id": portal.patient_id, "first": first},
    )
    entries = data.get("recordAccess") or []
    more = min(first + ACCESS_PAGE, ACCESS_MAX) if len(entries) >= first < ACCESS_MAX else None
    return page(portal, "access.html", {"entries": entries, "more": more}, block="access")
