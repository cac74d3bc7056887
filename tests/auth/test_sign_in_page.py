"""The staff sign-in page and sign-out (HTML, no JavaScript needed), on both databases."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.auth.routes import DEVELOPMENT_COOKIE, INVALID_CREDENTIALS
from backend.settings import Settings
from tests.auth.conftest import PASSWORD, SECRET, committed_staff, new_address


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    settings = Settings(
        env="development",
        database_url=db_url,
        secret_key=SecretStr(SECRET),
        principal_cache_seconds=0,
    )
    with TestClient(create_app(settings), client=(new_address(), 40000)) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str, password: str, **extra: str) -> httpx2.Response:
    return client.post(
        "/auth/sign-in",
        data={"username": username, "password": password, **extra},
        follow_redirects=False,
    )


def test_the_page_is_a_plain_form(client: TestClient) -> None:
    page = client.get("/auth/sign-in?next=/portal")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<form method="post" action="/auth/sign-in"' in html
    assert 'name="next" value="/portal"' in html
    assert 'autocomplete="current-password"' in html


def test_a_right_password_signs_in_and_goes_to_graphiql(engine: Engine, client: TestClient) -> None:
    _, username = committed_staff(engine)
    answer = sign_in(client, username, PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/graphql"
    assert DEVELOPMENT_COOKIE in answer.headers["set-cookie"]
    assert client.get("/auth/whoami").json()["username"] == username
    ide = client.get("/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 200
    assert f"signed in as {username}" in ide.text
    assert "unpkg" not in ide.text
    assert "<script>" not in ide.text
    assert "font-src 'self' data:" in ide.headers["content-security-policy"]
    shown = client.get("/auth/sign-in")
    assert f"You are signed in as <strong>{username}</strong>" in shown.text


def test_a_wrong_password_says_so_keeps_the_username_and_never_echoes_the_password(
    engine: Engine, client: TestClient
) -> None:
    _, username = committed_staff(engine)
    answer = client.post("/auth/sign-in", data={"username": username, "password": "hunter2-secret"})
    assert answer.status_code == 401
    assert INVALID_CREDENTIALS in answer.text
    assert f'value="{username}"' in answer.text
    assert "hunter2-secret" not in answer.text
    assert client.get("/auth/whoami").status_code == 401


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/portal", "/portal"),
        ("//evil.example/x", "/graphql"),
        ("/\\evil.example", "/graphql"),
        ("https://evil.example/", "/graphql"),
        ("", "/graphql"),
    ],
)
def test_next_stays_on_this_site(
    engine: Engine, client: TestClient, given: str, expected: str
) -> None:
    _, username = committed_staff(engine)
    answer = sign_in(client, username, PASSWORD, next=given)
    assert answer.headers["location"] == expected


def test_empty_fields_and_cross_site_posts_are_refused(engine: Engine, client: TestClient) -> None:
    _, username = committed_staff(engine)
    empty = client.post("/auth/sign-in", data={"username": username, "password": ""})
    assert empty.status_code == 400
    assert "Enter your username and password." in empty.text
    forged = client.post(
        "/auth/sign-in",
        data={"username": username, "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert client.get("/auth/whoami").status_code == 401


def test_repeated_failures_are_throttled_like_the_json_endpoint(
    engine: Engine, client: TestClient
) -> None:
    _, username = committed_staff(engine)
    codes = [
        client.post("/auth/sign-in", data={"username": username, "password": "guess"}).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429
    throttled = client.post("/auth/sign-in", data={"username": username, "password": PASSWORD})
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.text
    assert int(throttled.headers["retry-after"]) > 0


def test_sign_out_ends_the_session(engine: Engine, client: TestClient) -> None:
    _, username = committed_staff(engine)
    sign_in(client, username, PASSWORD)
    cookie = client.cookies.get(DEVELOPMENT_COOKIE)
    assert cookie
    out = client.post("/auth/sign-out", follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/auth/sign-in"
    assert client.get("/auth/whoami").status_code == 401
    # The old cookie is revoked on the server, not only forgotten by this browser.
    client.cookies.set(DEVELOPMENT_COOKIE, cookie)
    assert client.get("/auth/whoami").status_code == 401


@pytest.mark.parametrize("env", ["test", "production"])
def test_graphiql_is_served_in_development_only(db_url: str, env: str) -> None:
    settings = Settings(env=env, database_url=db_url, secret_key=SecretStr(SECRET))
    with TestClient(create_app(settings), client=(new_address(), 40000)) as test_client:
        answer = test_client.get("/graphql", headers={"accept": "text/html"})
    assert answer.status_code in {404, 405}
    assert "graphiql" not in answer.text.lower()
