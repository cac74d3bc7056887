"""OAuth2 client credentials at /oauth/token over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest
from sqlalchemy import Engine, update
from starlette.testclient import TestClient

from backend.accounts.models import StaffRole
from backend.auth.models import OAuthClient
from backend.auth.oauth import NewClient, create_client
from backend.db import transaction
from tests.auth.conftest import committed_staff

Http = Callable[..., TestClient]


def _client(engine: Engine, scopes: tuple[str, ...] = ("patients:read", "audit:read")) -> NewClient:
    user_id, _ = committed_staff(engine, roles=(StaffRole.INTEGRATION,), password_hash=None)
    with transaction(engine) as session:
        return create_client(session=session, name="Lab feed", staff_user_id=user_id, scopes=scopes)


def _token(
    client: TestClient, new: NewClient, secret: str | None = None, **form: str
) -> httpx2.Response:
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(new.client_id, new.client_secret if secret is None else secret),
    )


def test_client_credentials_issue_a_bearer_token_that_acts_as_the_integration_user(
    engine: Engine, http: Http
) -> None:
    new = _client(engine)
    client = http()
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "patients:read"},
        auth=(new.client_id, new.client_secret),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "patients:read"
    assert 0 < body["expires_in"] <= 3600
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    me = client.get("/auth/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["kind"] == "client"
    assert me.json()["roles"] == ["integration"]
    assert me.json()["scopes"] == ["patients:read"]


def test_no_scope_asked_means_all_the_clients_scopes(engine: Engine, http: Http) -> None:
    new = _client(engine)
    response = http().post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": new.client_id,
            "client_secret": new.client_secret,
        },
    )  # client_secret_post works as well as HTTP Basic
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "audit:read patients:read"


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("wrong secret", 401, "invalid_client"),
        ("unknown client", 401, "invalid_client"),
        ("inactive client", 401, "invalid_client"),
        ("scope beyond the client's", 400, "invalid_scope"),
        ("unknown scope", 400, "invalid_scope"),
        ("password grant", 400, "unsupported_grant_type"),
        ("no grant type", 400, "unsupported_grant_type"),
    ],
)
def test_token_requests_that_fail(
    engine: Engine, http: Http, case: str, status: int, error: str
) -> None:
    new = _client(engine)
    client = http()
    form = {"grant_type": "client_credentials"}
    auth = (new.client_id, new.client_secret)
    if case == "wrong secret":
        auth = (new.client_id, new.client_secret + "x")
    elif case == "unknown client":
        auth = ("p360_nobody", new.client_secret)
    elif case == "inactive client":
        with transaction(engine) as session:
            session.execute(
                update(OAuthClient).where(OAuthClient.id == new.id).values(active=False)
            )
    elif case == "scope beyond the client's":
        form["scope"] = "patients:read admin"
    elif case == "unknown scope":
        form["scope"] = "everything"
    elif case == "password grant":
        form = {"grant_type": "password", "username": "a", "password": "b"}
    elif case == "no grant type":
        form = {}
    response = client.post("/oauth/token", data=form, auth=auth)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_wrong_secret_and_unknown_client_look_the_same(engine: Engine, http: Http) -> None:
    new = _client(engine)
    wrong = http().post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(new.client_id, "nope")
    )
    unknown = http().post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("p360_ghost", "nope")
    )
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


def test_a_client_needs_known_scopes(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        _client(engine, scopes=("root",))
    with pytest.raises(ValueError, match="at least one scope"):
        _client(engine, scopes=())
