"""Browser sign-in over real HTTP handling, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update
from starlette.testclient import TestClient

from backend.auth.models import LoginAttempt, StaffSession
from backend.auth.routes import DEVELOPMENT_COOKIE
from backend.auth.sessions import hash_session_token
from backend.common.mixins import utcnow
from backend.db import transaction
from tests.auth.conftest import PASSWORD, committed_staff, new_address

Http = Callable[..., TestClient]


def test_login_sets_an_httponly_lax_session_cookie_and_resolves_the_principal(
    engine: Engine, http: Http
) -> None:
    _, username = committed_staff(engine)
    client = http()
    response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{DEVELOPMENT_COOKIE}=")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax", "Max-Age=43200"):
        assert attribute in cookie
    assert "Secure" not in cookie  # only in production, where the name is __Host-
    me = client.get("/auth/whoami")
    assert me.status_code == 200
    assert me.json() == {"kind": "staff", "username": username, "roles": ["nurse"], "scopes": []}


def test_login_accepts_json_too(engine: Engine, http: Http) -> None:
    _, username = committed_staff(engine)
    client = http()
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/auth/whoami").json()["username"] == username


def test_wrong_password_unknown_user_and_inactive_user_get_identical_answers(
    engine: Engine, http: Http
) -> None:
    _, active = committed_staff(engine)
    _, inactive = committed_staff(engine, active=False)
    answers = []
    for username, password in [
        (active, "not the password"),
        ("no-such-user-" + new_address(), PASSWORD),
        (inactive, PASSWORD),
        ("", PASSWORD),
    ]:
        response = http().post("/auth/login", data={"username": username, "password": password})
        assert "set-cookie" not in response.headers
        answers.append((response.status_code, response.json()))
    assert (
        answers
        == [(401, {"error": "invalid_credentials", "message": "Invalid username or password."})] * 4
    )


@pytest.mark.parametrize("body", [b"", b"username=a", b"{not json", b"[1,2]"])
def test_malformed_login_is_a_400_never_a_500(http: Http, body: bytes) -> None:
    kind = (
        "application/json" if body.startswith((b"{", b"[")) else "application/x-www-form-urlencoded"
    )
    response = http().post("/auth/login", content=body, headers={"content-type": kind})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_account_throttle_refuses_even_the_right_password_from_anywhere(
    engine: Engine, http: Http
) -> None:
    _, username = committed_staff(engine)
    for _ in range(5):
        assert (
            http().post("/auth/login", data={"username": username, "password": "guess"}).status_code
            == 401
        )
    refused = http().post("/auth/login", data={"username": username, "password": PASSWORD})
    assert refused.status_code == 429
    retry = int(refused.headers["retry-after"])
    assert 0 < retry <= 15 * 60
    assert refused.json() == {
        "error": "throttled",
        "message": "Too many failed sign-in attempts. Try again later.",
        "retry_after": retry,
    }
    assert "set-cookie" not in refused.headers
    # An unknown name is throttled the same way, so the 429 reveals no account either.
    ghost = "ghost-" + new_address()
    for _ in range(5):
        http().post("/auth/login", data={"username": ghost, "password": "guess"})
    assert http().post("/auth/login", data={"username": ghost, "password": "x"}).status_code == 429


def test_account_throttle_lifts_when_the_window_has_passed(engine: Engine, http: Http) -> None:
    user_id, username = committed_staff(engine)
    for _ in range(5):
        http().post("/auth/login", data={"username": username, "password": "guess"})
    assert (
        http().post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 429
    )
    from backend.auth.throttle import account_key

    with transaction(engine) as session:  # the failures age past the 15-minute window
        session.execute(
            update(LoginAttempt)
            .where(LoginAttempt.account_key == account_key(username))
            .values(occurred_at=utcnow() - timedelta(minutes=16))
        )
    assert (
        http().post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 200
    )
    with transaction(engine) as session:
        success = session.scalars(
            select(LoginAttempt).where(LoginAttempt.staff_user_id == user_id)
        ).one()
        assert success.outcome == "success"


def test_address_throttle_counts_failures_across_accounts(engine: Engine, http: Http) -> None:
    _, username = committed_staff(engine)
    address = new_address()
    client = http(address)
    for n in range(20):
        response = client.post("/auth/login", data={"username": f"spray-{n}", "password": "x"})
        assert response.status_code == 401
    assert (
        client.post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 429
    )
    # The same account from another address is not held back by this one.
    assert (
        http().post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 200
    )


def _age_session(engine: Engine, cookie: str, **values: object) -> None:
    if not values:
        return
    with transaction(engine) as session:
        session.execute(
            update(StaffSession)
            .where(StaffSession.token_hash == hash_session_token(cookie))
            .values(**values)
        )


@pytest.mark.parametrize(
    ("ageing", "alive"),
    [
        ({}, True),
        ({"last_seen_at": -29}, True),
        ({"last_seen_at": -31}, False),  # idle for more than 30 minutes
        ({"created_at": -11 * 60, "expires_at": 60}, True),
        ({"created_at": -12 * 60, "expires_at": -1}, False),  # 12 hours since sign-in
    ],
)
def test_session_idle_and_absolute_expiry(
    engine: Engine, http: Http, ageing: dict[str, int], alive: bool
) -> None:
    _, username = committed_staff(engine)
    client = http()
    assert (
        client.post("/auth/login", data={"username": username, "password": PASSWORD}).status_code
        == 200
    )
    cookie = client.cookies[DEVELOPMENT_COOKIE]
    now = utcnow()
    _age_session(
        engine, cookie, **{column: now + timedelta(minutes=m) for column, m in ageing.items()}
    )
    assert client.get("/auth/whoami").status_code == (200 if alive else 401)


def test_login_rotates_the_session_and_logout_revokes_it(engine: Engine, http: Http) -> None:
    _, username = committed_staff(engine)
    client = http()
    client.post("/auth/login", data={"username": username, "password": PASSWORD})
    first = client.cookies[DEVELOPMENT_COOKIE]
    client.post("/auth/login", data={"username": username, "password": PASSWORD})
    second = client.cookies[DEVELOPMENT_COOKIE]
    assert first != second
    replay = http()
    replay.cookies.set(DEVELOPMENT_COOKIE, first)
    assert replay.get("/auth/whoami").status_code == 401  # the pre-login id is dead
    assert client.get("/auth/whoami").status_code == 200

    response = client.post("/auth/logout")
    assert response.status_code == 204
    assert f'{DEVELOPMENT_COOKIE}=""' in response.headers["set-cookie"]
    stolen = http()
    stolen.cookies.set(DEVELOPMENT_COOKIE, second)
    assert stolen.get("/auth/whoami").status_code == 401  # revoked server-side, not just cleared
    with transaction(engine) as session:
        row = session.scalars(
            select(StaffSession).where(StaffSession.token_hash == hash_session_token(second))
        ).one()
        assert row.revoked_at is not None


def test_a_deactivated_user_loses_their_session(engine: Engine, http: Http) -> None:
    from backend.accounts.models import StaffUser

    user_id, username = committed_staff(engine)
    client = http()
    client.post("/auth/login", data={"username": username, "password": PASSWORD})
    with transaction(engine) as session:
        session.get_one(StaffUser, user_id).active = False
    assert client.get("/auth/whoami").status_code == 401


def test_no_credentials_and_garbage_cookies_are_unauthenticated(http: Http) -> None:
    client = http()
    assert client.get("/auth/whoami").json()["error"] == "unauthenticated"
    client.cookies.set(DEVELOPMENT_COOKIE, "x" * 500)
    assert client.get("/auth/whoami").status_code == 401
    assert client.post("/auth/logout").status_code == 204  # logging out twice is fine


def test_production_cookie_is_host_prefixed_and_secure(engine: Engine, db_url: str) -> None:
    from pydantic import SecretStr

    from backend.auth.routes import PRODUCTION_COOKIE
    from backend.settings import Settings
    from tests.auth.conftest import SECRET, auth_app

    _, username = committed_staff(engine)
    production = Settings(env="production", database_url=db_url, secret_key=SecretStr(SECRET))
    with TestClient(
        auth_app(production), base_url="https://testserver", client=(new_address(), 1)
    ) as client:
        response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{PRODUCTION_COOKIE}=")
        for attribute in ("Secure", "HttpOnly", "Path=/", "SameSite=lax"):
            assert attribute in cookie
        assert "Domain" not in cookie
        assert client.get("/auth/whoami").json()["username"] == username


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 200),
        ("http://testserver", 200),
        ("https://testserver", 200),
        ("https://evil.example", 403),
    ],
)
def test_cross_site_sign_in_is_refused(
    engine: Engine, http: Http, origin: str | None, status: int
) -> None:
    _, username = committed_staff(engine)
    headers = {"origin": origin} if origin else {}
    client = http()
    response = client.post(
        "/auth/login", data={"username": username, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == status
    if status == 403:
        assert "set-cookie" not in response.headers
        client.post("/auth/login", data={"username": username, "password": PASSWORD})
        assert client.post("/auth/logout", headers=headers).status_code == 403
        assert client.get("/auth/whoami").status_code == 200  # not signed out by another site
