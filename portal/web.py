"""The portal's request shell: who is signed in, CSRF, rendering, redirects.

Every portal view starts with :func:`load` (the signed-in patient, if any, and the CSRF
token for this browser) and ends with :func:`page` or :func:`redirect`:

* A full page normally; only the named block when htmx asks (``HX-Request``), so the same
  view serves plain form posts and partial swaps.
* CSRF: every POST must carry a token (form field ``csrf_token`` or header
  ``X-CSRF-Token``; htmx sends the header from ``<body hx-headers>``) and, when the
  browser sends one, an ``Origin`` of this host. The token is an HMAC of the session
  cookie (signed in) or of a random pre-session cookie (signed out), so it changes at
  sign-in with the session and cannot be made without the cookie.

Cookies: ``__Host-p360_portal`` (Secure, HttpOnly, SameSite=Lax, Path=/) in production.
Browsers refuse a ``__Host-`` cookie without Secure, and Secure cookies are not sent
over plain http to a non-loopback test host, so development and tests use
``p360_portal`` with the same flags minus Secure (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from backend.access.principal import Principal
from backend.auth.portal_sessions import ABSOLUTE_TIMEOUT, resolve_patient_principal
from backend.settings import Settings
from portal.filters import FILTERS

T = TypeVar("T")
SESSION_COOKIE = "p360_portal"
CSRF_COOKIE = "p360_portal_csrf"
HOST_PREFIX = "__Host-"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


def cookie_names(settings: Settings) -> tuple[str, str]:
    """(session cookie, pre-session CSRF cookie) for this environment."""
    prefix = HOST_PREFIX if settings.is_production else ""
    return prefix + SESSION_COOKIE, prefix + CSRF_COOKIE


@cache
def _environment(templates_dir: Path) -> Environment:
    # Autoescape everything: patient-entered text (names, messages) is rendered here.
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    # The form macros are globals, not per-template imports: a block rendered alone for
    # htmx does not run its template's top-level imports.
    macros = env.get_template("_macros.html").module
    env.globals.update(field=macros.field, alert=macros.alert)  # type: ignore[attr-defined]
    return env


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with factory() as session, session.begin():
        return await session.run_sync(work)


def _csrf_key(settings: Settings) -> bytes:
    # A key of its own, derived from the app secret: a CSRF token is no signing oracle
    # for anything else.
    return hashlib.sha256(b"p360 portal csrf\0" + settings.secret().encode()).digest()


def csrf_token_for(settings: Settings, binding: str) -> str:
    return hmac.new(_csrf_key(settings), binding.encode(), hashlib.sha256).hexdigest()


@dataclass
class Portal:
    """One portal request: settings, the patient (if signed in), the CSRF token."""

    request: Request
    settings: Settings
    principal: Principal | None
    session_cookie: str | None
    csrf_binding: str
    new_csrf_cookie: str | None = None  # set on the response when minted here
    notices: list[str] = field(default_factory=list)

    @property
    def csrf_token(self) -> str:
        return csrf_token_for(self.settings, self.csrf_binding)

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    @property
    def patient_id(self) -> str:
        assert self.principal is not None
        assert self.principal.patient_id is not None
        return str(self.principal.patient_id)


async def load(request: Request) -> Portal:
    """The signed-in patient behind the session cookie (or None) and the CSRF binding."""
    settings: Settings = request.app.state.settings
    session_name, csrf_name = cookie_names(settings)
    cookie = request.cookies.get(session_name)
    address = address_of(request)
    found = None
    if cookie:
        found = await in_transaction(
            request,
            lambda s: resolve_patient_principal(
                session=s, cookie_value=cookie, client_address=address
            ),
        )
    principal = found[0] if found else None
    if principal is not None and cookie:
        return Portal(request, settings, principal, cookie, csrf_binding="s:" + cookie)
    pre = request.cookies.get(csrf_name)
    minted = None
    if not pre or len(pre) > 128:
        pre = minted = secrets.token_urlsafe(32)
    return Portal(request, settings, None, None, csrf_binding="a:" + pre, new_csrf_cookie=minted)


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on every cross-site (and same-site) POST; only the host is
    compared, since TLS may end in front of the app. Sec-Fetch-Site backs it up."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        return False
    site = request.headers.get("sec-fetch-site")
    return site in (None, "same-origin", "none")


def csrf_ok(portal: Portal, form: FormData | None) -> bool:
    """Whether a state-changing request came from this portal's own page."""
    request = portal.request
    if not _same_origin(request):
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form is not None:
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent:
        return False
    candidates = [portal.csrf_binding]
    # A signed-in browser may still post a form rendered before sign-in (same tab).
    _, csrf_name = cookie_names(portal.settings)
    pre = request.cookies.get(csrf_name)
    if pre and portal.principal is not None:
        candidates.append("a:" + pre)
    return any(
        hmac.compare_digest(sent, csrf_token_for(portal.settings, binding))
        for binding in candidates
    )


async def read_form(request: Request) -> FormData | None:
    """The posted form, or None when it is too large to be one of ours."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    return await request.form(max_files=0, max_fields=200)


def text(form: FormData, name: str, limit: int = 1000) -> str:
    """A form field as text ('' when missing or a file), cut at ``limit``."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _finish(portal: Portal, response: Response) -> Response:
    if portal.new_csrf_cookie:
        _, csrf_name = cookie_names(portal.settings)
        response.set_cookie(
            csrf_name,
            portal.new_csrf_cookie,
            path="/",
            secure=portal.settings.is_production,
            httponly=True,
            samesite="lax",
        )
    for name, value in NO_STORE.items():
        response.headers.setdefault(name, value)
    return response


def page(
    portal: Portal,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    block: str | None = None,
    status: int = 200,
) -> Response:
    """Render ``template``; only ``block`` when htmx asked for a partial."""
    env = _environment(portal.settings.templates_dir)
    tmpl = env.get_template(template)
    values = {
        "portal": portal,
        "signed_in": portal.principal is not None,
        "csrf_token": portal.csrf_token,
        "csrf_field": CSRF_FIELD,
        "path": portal.request.url.path,
        **(context or {}),
    }
    if block is not None and portal.htmx:
        html = "".join(tmpl.blocks[block](tmpl.new_context(values)))
    else:
        html = tmpl.render(values)
    return _finish(portal, HTMLResponse(html, status_code=status))


def redirect(portal: Portal, url: str) -> Response:
    """After a successful POST: 303 for plain forms; htmx navigates with HX-Redirect."""
    if portal.htmx:
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return _finish(portal, response)


def forbidden_form(portal: Portal) -> Response:
    return page(
        portal,
        "notice.html",
        {
            "title": "This form has expired",
            "message": "Please go back, reload the page and try again.",
        },
        block="content",
        status=403,
    )


def set_session_cookie(portal: Portal, response: Response, value: str) -> None:
    session_name, _ = cookie_names(portal.settings)
    response.set_cookie(
        session_name,
        value,
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        path="/",
        secure=portal.settings.is_production,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(portal: Portal, response: Response) -> None:
    session_name, _ = cookie_names(portal.settings)
    response.delete_cookie(
        session_name,
        path="/",
        secure=portal.settings.is_production,
        httponly=True,
        samesite="lax",
    )
