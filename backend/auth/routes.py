"""HTTP endpoints of authentication: sign-in and sign-out for browsers, OAuth2 token.

The routes expect what ``create_app`` puts on ``app.state``: ``settings`` and
``sessions`` (an async sessionmaker). Services are synchronous and run inside the async
session with ``run_sync``; the argon2 verification runs in a worker thread so a sign-in
does not stall other requests.

Cookie: ``__Host-p360_session`` in production (Secure, Path=/, no Domain: the ``__Host-``
prefix makes browsers enforce exactly that). Browsers refuse a ``__Host-`` cookie without
Secure, and development and tests serve plain http on 127.0.0.1 or a test host, so there
the cookie is ``p360_session`` without Secure. Both are HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backend.access import audit
from backend.access.models import AuditAction, AuditOutcome
from backend.access.principal import Principal
from backend.access.principal_cache import principal_cache
from backend.auth.oauth import token_endpoint
from backend.auth.principals import resolve_principal
from backend.auth.service import LoginGate, LoginOutcome, begin_login, check_password, finish_login
from backend.auth.sessions import ABSOLUTE_TIMEOUT, revoke_session, rotate_session
from backend.common.mixins import utcnow
from backend.settings import Settings

PRODUCTION_COOKIE = "__Host-p360_session"
DEVELOPMENT_COOKIE = "p360_session"
INVALID_CREDENTIALS = "Invalid username or password."
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM_BYTES = 16 * 1024
T = TypeVar("T")


def cookie_name(settings: Settings) -> str:
    return PRODUCTION_COOKIE if settings.is_production else DEVELOPMENT_COOKIE


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with factory() as session, session.begin():
        return await session.run_sync(work)


async def current_principal(request: Request) -> Principal | None:
    """The caller of this request (cookie or bearer token), for any transport to use.

    A credential seen within the last ``principal_cache_seconds`` is answered from
    :mod:`backend.auth.principal_cache` without touching the database.
    """
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(cookie_name(settings))
    authorization = request.headers.get("authorization")
    address = _address(request)
    ttl = settings.principal_cache_seconds
    key: str | None = None
    if authorization is not None:  # judged by the header alone, as resolve_principal does
        key = principal_cache.key("bearer", authorization.strip())
    elif cookie:
        key = principal_cache.key("cookie", cookie)
    if key is not None and ttl > 0:
        cached = principal_cache.get(key)
        if cached is not None:
            return dataclasses.replace(cached, client_address=address)
        # Concurrent requests with the same credential share one resolution: when an
        # entry expires under load, every in-flight request would otherwise miss at once.
        # A resolution begun before an invalidation (sign-out, revocation) is not shared.
        loop = asyncio.get_running_loop()
        pending = _resolving.get(key)
        if (
            pending is not None
            and pending.generation == principal_cache.generation
            and pending.future.get_loop() is loop
        ):
            try:
                shared = await asyncio.shield(pending.future)
            except asyncio.CancelledError:
                if not pending.future.cancelled():
                    raise  # this request itself was cancelled
                # the shared resolution failed: resolve on our own below
            else:
                if shared is None:
                    return None
                return dataclasses.replace(shared, client_address=address)
        mine = _Pending(loop.create_future(), principal_cache.generation)
        _resolving[key] = mine
        try:
            principal = await _resolve(request, settings, cookie, authorization, address, key)
            mine.future.set_result(principal)
            return principal
        finally:
            if not mine.future.done():
                mine.future.cancel()  # waiters resolve on their own
            if _resolving.get(key) is mine:
                del _resolving[key]
    return await _resolve(request, settings, cookie, authorization, address, key)


@dataclasses.dataclass(frozen=True, slots=True)
class _Pending:
    future: asyncio.Future[Principal | None]
    generation: int  # the principal cache's generation when the resolution began


_resolving: dict[str, _Pending] = {}


async def _resolve(
    request: Request,
    settings: Settings,
    cookie: str | None,
    authorization: str | None,
    address: str,
    key: str | None,
) -> Principal | None:
    ttl = settings.principal_cache_seconds
    generation = principal_cache.generation
    now = utcnow()
    principal = await _in_transaction(
        request,
        lambda s: resolve_principal(
            session=s,
            settings=settings,
            session_cookie=cookie,
            authorization=authorization,
            client_address=address,
            now=now,
        ),
    )
    if principal is not None and key is not None and ttl > 0:
        expires = principal.credential_expires_at
        principal_cache.put(
            key,
            principal,
            ttl=ttl,
            generation=generation,
            expires_in=None if expires is None else (expires - now).total_seconds(),
        )
    return principal


async def _credentials(request: Request) -> tuple[str, str] | None:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    data: Any
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(body)
        except ValueError:
            return None
    else:
        form = await request.form()
        data = {key: value for key, value in form.items() if isinstance(value, str)}
    if not isinstance(data, dict):
        return None
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    return username, password


def _refused(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status, headers=NO_STORE)


def is_cross_site(request: Request) -> bool:
    """A browser form posted from another site (login CSRF, forced logout).

    Browsers send Origin on every cross-site POST; scripts and curl send none. Only the
    host is compared: TLS ends in front of the app, so the scheme seen here may differ.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


@dataclasses.dataclass(frozen=True, slots=True)
class LoginResult:
    """A sign-in attempt's outcome: ``session`` is the new session (None when refused),
    ``retry_after`` the seconds to wait when throttled."""

    session: Any
    retry_after: int | None


async def attempt_login(request: Request, username: str, password: str) -> LoginResult:
    """Check the password (in a worker thread), throttle, audit and, on success, start a
    new session: the one sign-in path the JSON endpoint and the sign-in page share."""
    settings: Settings = request.app.state.settings
    address = _address(request)
    gate = await _in_transaction(
        request, lambda s: begin_login(session=s, username=username, address=address)
    )
    ok = await anyio.to_thread.run_sync(check_password, gate, password)
    old_cookie = request.cookies.get(cookie_name(settings))

    def record(session: Session) -> tuple[Any, Any]:
        outcome = finish_login(session=session, gate=gate, password_ok=ok, password=password)
        _audit_login(session, gate, outcome, address)
        if outcome.user_id is None:
            return outcome, None
        # Sign-in always starts a new session: an id planted before sign-in is useless.
        new = rotate_session(
            session=session,
            old_cookie_value=old_cookie,
            staff_user_id=outcome.user_id,
            address=address,
        )
        return outcome, new

    outcome, new = await _in_transaction(request, record)
    return LoginResult(session=new, retry_after=outcome.retry_after)


def set_session_cookie(response: Response, settings: Settings, new: Any) -> None:
    response.set_cookie(
        cookie_name(settings),
        new.cookie_value,
        max_age=int(ABSOLUTE_TIMEOUT.total_seconds()),
        path="/",
        secure=settings.is_production,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        cookie_name(settings),
        path="/",
        secure=settings.is_production,
        httponly=True,
        samesite="lax",
    )


async def end_session(request: Request) -> None:
    """Revoke the browser's session (if any) for sign-out."""
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(cookie_name(settings))
    if cookie:
        await _in_transaction(request, lambda s: revoke_session(session=s, cookie_value=cookie))


async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if is_cross_site(request):
        return _refused(403, "cross_site", "Sign in from patient360's own pages.")
    credentials = await _credentials(request)
    if credentials is None:
        return _refused(400, "bad_request", "Send username and password as a form or JSON.")
    username, password = credentials
    result = await attempt_login(request, username, password)
    if result.retry_after is not None:
        response = _refused(
            429,
            "throttled",
            "Too many failed sign-in attempts. Try again later.",
            retry_after=result.retry_after,
        )
        response.headers["Retry-After"] = str(result.retry_after)
        return response
    if result.session is None:
        return _refused(401, "invalid_credentials", INVALID_CREDENTIALS)
    response = JSONResponse(
        {"username": username.strip(), "expires_at": result.session.expires_at.isoformat()},
        headers=NO_STORE,
    )
    set_session_cookie(response, settings, result.session)
    return response


def _audit_login(session: Session, gate: LoginGate, outcome: LoginOutcome, address: str) -> None:
    """One audit event per sign-in attempt, in the same transaction as its outcome.

    A failed attempt names the account only when the username belongs to one: what people
    type into the username box is sometimes their password, and the trail is insert-only.
    """
    audit.record(
        session=session,
        principal=None,
        action=AuditAction.LOGIN if outcome.ok else AuditAction.FAILED_LOGIN,
        outcome=AuditOutcome.SUCCESS if outcome.ok else AuditOutcome.DENIED,
        actor_username=_audit_actor(gate),
        address=address,
        purpose="throttled" if outcome.retry_after is not None else None,
    )


def _audit_actor(gate: LoginGate) -> str:
    if gate.user_id is None:
        return "unknown-account"
    # Usernames are chosen by admins; one the audit trail would refuse as a token must
    # not turn a sign-in into an error, so it is recorded by account id instead.
    if audit.is_short_token(gate.username):
        return gate.username
    return f"account:{gate.user_id.hex}"


async def logout(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if is_cross_site(request):
        return _refused(403, "cross_site", "Sign out from patient360's own pages.")
    await end_session(request)
    response = Response(status_code=204, headers=NO_STORE)
    clear_session_cookie(response, settings)
    return response


async def whoami(request: Request) -> Response:
    """Who the server thinks is calling: lets a browser or script check its credentials."""
    principal = await current_principal(request)
    if principal is None:
        return _refused(401, "unauthenticated", "Sign in or send a valid bearer token.")
    return JSONResponse(
        {
            "kind": str(principal.kind),
            "username": principal.username,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
        },
        headers=NO_STORE,
    )


async def oauth_token(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _refused(400, "invalid_request", "Request too large.")
    form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    headers = request.headers
    result = await _in_transaction(
        request,
        lambda s: token_endpoint(
            session=s, settings=settings, method=request.method, headers=headers, form=form
        ),
    )
    return JSONResponse(result.body, result.status, headers=dict(result.headers))


def auth_routes() -> list[BaseRoute]:
    """The routes for ``create_app`` to mount at the root."""
    from backend.auth import pages  # the HTML pages build on this module's helpers

    return [
        Route("/auth/sign-in", pages.sign_in_page, methods=["GET"]),
        Route("/auth/sign-in", pages.sign_in, methods=["POST"]),
        Route("/auth/sign-out", pages.sign_out, methods=["POST"]),
        Route("/auth/login", login, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/whoami", whoami, methods=["GET"]),
        Route("/oauth/token", oauth_token, methods=["POST"]),
    ]
