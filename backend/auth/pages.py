"""Staff sign-in and sign-out as HTML pages, and the development GraphiQL page.

The same sign-in path as ``POST /auth/login`` (:func:`backend.auth.routes.attempt_login`:
throttling, audit, a new session), answered as pages: a plain form that works without
JavaScript, then a redirect to where the person was going (GraphiQL by default in
development). Login CSRF is refused by the Origin check every state change shares.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from backend.access.principal import PrincipalKind
from backend.auth.routes import (
    INVALID_CREDENTIALS,
    MAX_FORM_BYTES,
    NO_STORE,
    attempt_login,
    clear_session_cookie,
    current_principal,
    end_session,
    is_cross_site,
    set_session_cookie,
)
from backend.settings import Settings
from backend.web.headers import content_security_policy
from backend.web.templating import TEMPLATES

# The app's policy plus data: fonts, which GraphiQL's stylesheet embeds.
GRAPHIQL_CSP = content_security_policy(font_src="'self' data:")
MAX_USERNAME = 150
MAX_PASSWORD = 1024


def _next_path(request: Request, value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//host`` or a
    full URL: an open redirect would make the sign-in page a phishing tool)."""
    settings: Settings = request.app.state.settings
    default = "/graphql" if settings.env == "development" else "/"
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    return value[:512]


def _page(request: Request, status: int = 200, **context: Any) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, "sign_in.html", {"error": None, "username": "", **context}, status_code=status
    )
    response.headers.update(NO_STORE)
    return response


async def sign_in_page(request: Request) -> Response:
    principal = await current_principal(request)
    signed_in = principal.username if principal and principal.kind is PrincipalKind.STAFF else None
    return _page(
        request, next=_next_path(request, request.query_params.get("next")), signed_in=signed_in
    )


async def sign_in(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if is_cross_site(request):
        return _page(request, 403, error="Sign in from patient360's own pages.", next="/")
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return _page(request, 400, error="The form was too large.", next="/")
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    username = fields.get("username", "").strip()
    password = fields.get("password", "")
    next_path = _next_path(request, fields.get("next"))
    if not username or not password:
        return _page(
            request,
            400,
            error="Enter your username and password.",
            username=username,
            next=next_path,
        )
    if len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        return _page(request, 400, error=INVALID_CREDENTIALS, next=next_path)
    result = await attempt_login(request, username, password)
    if result.retry_after is not None:
        minutes = max(1, (result.retry_after + 59) // 60)
        page = _page(
            request,
            429,
            error=f"Too many failed sign-in attempts. Try again in {minutes} minutes.",
            username=username,
            next=next_path,
        )
        page.headers["Retry-After"] = str(result.retry_after)
        return page
    if result.session is None:
        return _page(request, 401, error=INVALID_CREDENTIALS, username=username, next=next_path)
    response = RedirectResponse(next_path, status_code=303, headers=NO_STORE)
    set_session_cookie(response, settings, result.session)
    return response


async def sign_out(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if is_cross_site(request):
        return _page(request, 403, error="Sign out from patient360's own pages.", next="/")
    await end_session(request)
    response = RedirectResponse("/auth/sign-in", status_code=303, headers=NO_STORE)
    clear_session_cookie(response, settings)
    return response


async def graphiql_page(request: Request) -> Response:
    """GraphiQL from local assets (development only; the route decides that)."""
    principal = await current_principal(request)
    username = principal.username if principal is not None else None
    response = TEMPLATES.TemplateResponse(request, "graphiql.html", {"username": username})
    response.headers.update(NO_STORE)
    response.headers["content-security-policy"] = GRAPHIQL_CSP
    return response
