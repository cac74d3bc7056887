"""Portal account pages: sign in, sign out, accept an invite, reset a password.

Slow argon2 work (verifying at sign-in, hashing a new password) runs in a worker
thread between short database transactions, so one sign-in never stalls the server.
"""

from __future__ import annotations

import logging
from datetime import date

import anyio.to_thread
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from backend.accounts.invites import (
    Redeemed,
    email_problem,
    normalise_email,
    open_invite,
    password_problem,
    redeem_invite,
)
from backend.accounts.passwords import hash_password
from backend.accounts.portal_login import (
    begin_portal_login,
    finish_portal_login,
    open_reset,
    request_password_reset,
    reset_password,
)
from backend.auth.portal_sessions import (
    create_portal_session,
    revoke_portal_session,
    rotate_portal_session,
)
from backend.auth.service import check_password
from backend.common.mail import Mail, MailError, send_mail
from backend.settings import Settings
from portal.web import (
    Portal,
    address_of,
    clear_session_cookie,
    csrf_ok,
    forbidden_form,
    in_transaction,
    load,
    page,
    read_form,
    redirect,
    set_session_cookie,
    text,
)

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS = "The e-mail address or password is not right."
DEAD_LINK = (
    "This link is not valid: it may have expired or been used already. Invite links "
    "come from the clinic; a password link can be asked for again from the sign-in page."
)
MISMATCH = "The two passwords are not the same."
NOTICES = {
    "signed_out": "You have signed out.",
    "password_reset": "Your password has been changed. Sign in with the new one.",
    "expired": "Please sign in to continue.",
}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


async def sign_in_page(request: Request) -> Response:
    portal = await load(request)
    if portal.principal is not None:
        return redirect(portal, "/portal")
    return page(portal, "sign_in.html", {"email": "", "notice": _notice(request)}, block="signin")


async def sign_in(request: Request) -> Response:
    portal = await load(request)
    form = await read_form(request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    email = text(form, "email", 320)
    password = text(form, "password", 4096)
    address = address_of(request)
    gate = await in_transaction(
        request, lambda s: begin_portal_login(session=s, email=email, address=address)
    )
    ok = await anyio.to_thread.run_sync(check_password, gate, password)
    old_cookie = portal.session_cookie

    def record(session: Session) -> tuple[int | None, str | None]:
        outcome = finish_portal_login(session=session, gate=gate, password_ok=ok, password=password)
        if outcome.user_id is None:
            return outcome.retry_after, None
        # A new session id at every sign-in: one planted in the browser before is useless.
        new = rotate_portal_session(
            session=session,
            old_cookie_value=old_cookie,
            portal_account_id=outcome.user_id,
            address=address,
        )
        return None, new.cookie_value

    retry_after, cookie = await in_transaction(request, record)
    if retry_after is not None:
        minutes = max(1, (retry_after + 59) // 60)
        error = f"Too many attempts. Try again in {minutes} minutes."
        response = page(
            portal, "sign_in.html", {"email": email, "error": error}, block="signin", status=429
        )
        response.headers["Retry-After"] = str(retry_after)
        return response
    if cookie is None:
        return page(
            portal,
            "sign_in.html",
            {"email": email, "error": INVALID_CREDENTIALS},
            block="signin",
            status=401,
        )
    response = redirect(portal, "/portal")
    set_session_cookie(portal, response, cookie)
    return response


async def sign_out(request: Request) -> Response:
    portal = await load(request)
    form = await read_form(request)
    if portal.principal is not None and (form is None or not csrf_ok(portal, form)):
        return forbidden_form(portal)
    cookie = portal.session_cookie
    if cookie:
        await in_transaction(
            request, lambda s: revoke_portal_session(session=s, cookie_value=cookie)
        )
    response = redirect(portal, "/portal/sign-in?notice=signed_out")
    clear_session_cookie(portal, response)
    return response


def _dead_link(portal: Portal) -> Response:
    return page(
        portal,
        "notice.html",
        {
            "title": "This link does not work any more",
            "message": DEAD_LINK,
            "link": ("/portal/sign-in", "Go to sign in"),
        },
        block="content",
        status=404,
    )


async def invite_page(request: Request) -> Response:
    portal = await load(request)
    token = request.path_params["token"]
    invite = await in_transaction(request, lambda s: open_invite(session=s, token=token))
    if invite is None:
        return _dead_link(portal)
    return page(
        portal,
        "invite.html",
        {"action": request.url.path, "errors": {}, "values": {}},
        block="invite",
    )


def _birth_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


async def accept_invite(request: Request) -> Response:
    portal = await load(request)
    form = await read_form(request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    token = request.path_params["token"]
    values = {"birth_date": text(form, "birth_date", 32), "email": text(form, "email", 320)}
    password, again = text(form, "password", 4096), text(form, "password_again", 4096)
    errors: dict[str, str] = {}
    born = _birth_date(values["birth_date"])
    if born is None:
        errors["birth_date"] = "Enter your birth date like 1980-04-23."
    email = normalise_email(values["email"])
    problem = email_problem(email)
    if problem:
        errors["email"] = problem
    problem = password_problem(password, email=email)
    if problem:
        errors["password"] = problem
    elif password != again:
        errors["password_again"] = MISMATCH

    def again_page(error: str | None, status: int) -> Response:
        context = {"action": request.url.path, "errors": errors, "values": values, "error": error}
        return page(portal, "invite.html", context, block="invite", status=status)

    if errors:
        return again_page("Please correct the fields marked below.", 422)
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    address = address_of(request)
    assert born is not None

    def redeem(session: Session) -> tuple[Redeemed, str | None]:
        outcome = redeem_invite(
            session=session,
            token=token,
            birth_date=born,
            email=email,
            password_hash=password_hash,
            address=address,
        )
        if outcome.account_id is None:
            return outcome, None
        new = create_portal_session(
            session=session, portal_account_id=outcome.account_id, address=address
        )
        return outcome, new.cookie_value

    outcome, cookie = await in_transaction(request, redeem)
    if cookie is None:
        if outcome.field is None:
            return _dead_link(portal)
        errors[outcome.field] = outcome.error or ""
        return again_page(None, 422)
    response = redirect(portal, "/portal")
    set_session_cookie(portal, response, cookie)
    return response


async def reset_request_page(request: Request) -> Response:
    portal = await load(request)
    return page(
        portal, "reset_request.html", {"email": "", "errors": {}, "sent": False}, block="reset"
    )


def _send_reset(settings: Settings, to: str, link: str) -> None:
    body = (
        "Someone (we hope you) asked to reset the password of your patient portal account.\n\n"
        f"Set a new password here (the link works once, for one hour):\n{link}\n\n"
        "If it was not you, ignore this message: your password stays as it is.\n"
    )
    try:
        send_mail(
            settings=settings,
            mail=Mail(to=to, subject="Reset your patient portal password", body=body),
        )
    except MailError as exc:
        logger.error("%s", exc)


async def request_reset(request: Request) -> Response:
    portal = await load(request)
    form = await read_form(request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    email = normalise_email(text(form, "email", 320))
    problem = email_problem(email)
    if problem:
        context = {"email": email, "errors": {"email": problem}, "sent": False}
        return page(portal, "reset_request.html", context, block="reset", status=422)
    address = address_of(request)
    link = await in_transaction(
        request, lambda s: request_password_reset(session=s, email=email, address=address)
    )
    response = page(
        portal, "reset_request.html", {"email": "", "errors": {}, "sent": True}, block="reset"
    )
    if link is not None:
        # Sent after the response: the answer takes the same time whether or not an
        # account uses the address.
        url = portal.settings.base_url + link.path
        response.background = BackgroundTask(_send_reset, portal.settings, link.email, url)
    return response


async def reset_page(request: Request) -> Response:
    portal = await load(request)
    token = request.path_params["token"]
    found = await in_transaction(request, lambda s: open_reset(session=s, token=token))
    if found is None:
        return _dead_link(portal)
    return page(
        portal, "reset.html", {"action": request.url.path, "errors": {}}, block="newpassword"
    )


async def reset(request: Request) -> Response:
    portal = await load(request)
    form = await read_form(request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    token = request.path_params["token"]
    password, again = text(form, "password", 4096), text(form, "password_again", 4096)
    errors: dict[str, str] = {}
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    elif password != again:
        errors["password_again"] = MISMATCH
    if errors:
        context = {"action": request.url.path, "errors": errors}
        return page(portal, "reset.html", context, block="newpassword", status=422)
    password_hash = await anyio.to_thread.run_sync(hash_password, password)
    address = address_of(request)
    done = await in_transaction(
        request,
        lambda s: reset_password(
            session=s, token=token, password_hash=password_hash, address=address
        ),
    )
    if done is None:
        return _dead_link(portal)
    response = redirect(portal, "/portal/sign-in?notice=password_reset")
    clear_session_cookie(portal, response)
    return response
