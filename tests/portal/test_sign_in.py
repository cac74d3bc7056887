"""Signing in and out over HTTP: cookies, CSRF, throttling, one message for every refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.accounts import portal_login
from backend.accounts.passwords import verify_password
from backend.auth import service
from backend.auth.models import PortalSession
from backend.auth.portal_sessions import create_portal_session, resolve_portal_session
from backend.auth.service import check_password
from backend.common.mixins import utcnow
from backend.db import transaction
from portal.account import INVALID_CREDENTIALS
from tests.portal.conftest import csrf_of, new_address, sign_in
from tests.portal.world import PASSWORD, PortalWorld, build_world

Http = Callable[..., TestClient]


def test_sign_in_sets_a_session_cookie_and_shows_the_record(http: Http, world: PortalWorld) -> None:
    client = http()
    response = sign_in(client, world.emails["ana"])
    assert response.status_code == 303
    assert response.headers["location"] == "/portal"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("p360_portal=")
    for flag in ("HttpOnly", "Path=/", "SameSite=lax"):
        assert flag in cookie
    assert "Secure" not in cookie  # test env is plain http; production is __Host- + Secure
    home = client.get("/portal")
    assert home.status_code == 200
    assert "Hello, Ana" in home.text
    assert "Ana upcoming check-in" not in home.text  # the reason is a staff-only field
    assert home.headers["cache-control"] == "no-store"


def test_every_refusal_says_the_same(http: Http, world: PortalWorld) -> None:
    client = http()
    wrong = sign_in(client, world.emails["ana"], "not the password at all")
    unknown = sign_in(client, "nobody@example.org")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert INVALID_CREDENTIALS in response.text
        assert (
            "set-cookie" not in response.headers
            or "p360_portal=" not in (response.headers["set-cookie"])
        )
    assert client.get("/portal").status_code == 303


def test_throttled_after_five_wrong_passwords_even_with_the_right_one(
    http: Http, world: PortalWorld
) -> None:
    client = http()
    for _ in range(5):
        assert sign_in(client, world.emails["ana"], "wrong password here").status_code == 401
    refused = sign_in(client, world.emails["ana"])
    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    # Another browser elsewhere is throttled for this account too; Ben is not.
    assert sign_in(http(), world.emails["ana"]).status_code == 429
    assert sign_in(http(), world.emails["ben"]).status_code == 303


def test_each_refusal_costs_one_argon2_verification(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: unknown account, wrong password, right password all verify once."""
    world = build_world(session)
    calls: list[bool] = []

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash is not None)
        return verify_password(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    for email, password in (
        ("nobody@example.org", PASSWORD),
        (world.emails["ana"], "wrong password 123"),
        (world.emails["ana"], PASSWORD),
    ):
        calls.clear()
        gate = portal_login.begin_portal_login(session=session, email=email, address=new_address())
        ok = check_password(gate, password)
        outcome = portal_login.finish_portal_login(
            session=session, gate=gate, password_ok=ok, password=password
        )
        assert len(calls) == 1, (email, calls)
        assert outcome.ok is (password == PASSWORD and email != "nobody@example.org")


def test_a_post_without_the_token_or_from_another_site_is_refused(
    http: Http, world: PortalWorld
) -> None:
    client = http()
    token = csrf_of(client.get("/portal/sign-in").text)
    form = {"email": world.emails["ana"], "password": PASSWORD}
    assert client.post("/portal/sign-in", data=form).status_code == 403
    assert client.post("/portal/sign-in", data={**form, "csrf_token": "0" * 64}).status_code == 403
    evil = client.post(
        "/portal/sign-in",
        data={**form, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    # Another browser's token is worthless here (it is bound to that browser's cookie).
    other = http()
    other_token = csrf_of(other.get("/portal/sign-in").text)
    assert other_token != token
    assert (
        client.post("/portal/sign-in", data={**form, "csrf_token": other_token}).status_code == 403
    )
    # The header works as well as the field (htmx sends the header).
    ok = client.post("/portal/sign-in", data=form, headers={"X-CSRF-Token": token})
    assert ok.status_code == 303


def test_sign_in_rotates_the_session_and_sign_out_revokes_it(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = http()
    with transaction(portal_engine) as s:
        planted = create_portal_session(session=s, portal_account_id=world.accounts["ana"])
    client.cookies.set("p360_portal", planted.cookie_value, domain="testserver.local")
    # Signing in again from a browser that already holds a session replaces it.
    assert client.get("/portal/sign-in").headers["location"] == "/portal"
    token = csrf_of(client.get("/portal").text)
    response = client.post(
        "/portal/sign-in",
        data={"email": world.emails["ana"], "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303
    new_cookie = client.cookies.get("p360_portal")
    assert new_cookie
    assert new_cookie != planted.cookie_value
    with transaction(portal_engine) as s:
        assert resolve_portal_session(session=s, cookie_value=planted.cookie_value) is None
    page = client.get("/portal")
    assert page.status_code == 200
    token = csrf_of(page.text)
    out = client.post("/portal/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/portal/sign-in?notice=signed_out"
    with transaction(portal_engine) as s:
        row = s.scalars(
            select(PortalSession).where(PortalSession.portal_account_id == world.accounts["ana"])
        ).all()
        assert all(r.revoked_at is not None for r in row)
    client.cookies.set("p360_portal", new_cookie, domain="testserver.local")
    assert client.get("/portal").status_code == 303  # the old cookie is dead server-side


def test_idle_and_absolute_timeouts(session: Session) -> None:
    from datetime import timedelta

    world = build_world(session)
    now = utcnow()
    new = create_portal_session(session=session, portal_account_id=world.accounts["ana"], now=now)
    value = new.cookie_value
    assert resolve_portal_session(session=session, cookie_value=value, now=now) is not None
    idle = now + timedelta(minutes=30)
    assert resolve_portal_session(session=session, cookie_value=value, now=idle) is None
    # Active every 20 minutes: alive until the 12-hour mark, then gone.
    moment = now
    while moment + timedelta(minutes=20) < now + timedelta(hours=12):
        moment += timedelta(minutes=20)
        assert resolve_portal_session(session=session, cookie_value=value, now=moment)
    late = now + timedelta(hours=12)
    assert resolve_portal_session(session=session, cookie_value=value, now=late) is None


def test_production_uses_host_prefixed_secure_cookies(
    portal_db_url: str, world: PortalWorld, mailbox: tuple[object, int]
) -> None:
    from backend.app import create_app
    from tests.portal.conftest import portal_settings

    settings = portal_settings(portal_db_url, mailbox[1], env="production")
    with TestClient(
        create_app(settings), base_url="https://portal.example", follow_redirects=False
    ) as client:
        page = client.get("/portal/sign-in")
        pre = page.headers["set-cookie"]
        assert pre.startswith("__Host-p360_portal_csrf=")
        response = client.post(
            "/portal/sign-in",
            data={
                "email": world.emails["ana"],
                "password": PASSWORD,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-p360_portal=")
        for flag in ("Secure", "HttpOnly", "Path=/", "SameSite=lax"):
            assert flag in cookie
        assert "Domain" not in cookie
        assert "strict-transport-security" in response.headers
        assert client.get("/portal").status_code == 200
