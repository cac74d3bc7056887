"""The principal cache: a repeated credential skips the database, revocations made here
apply at once, and other changes apply within the configured seconds."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from backend.access import principal_cache as cache_module
from backend.access.principal import Principal, PrincipalKind
from backend.access.principal_cache import PrincipalCache
from backend.accounts.models import StaffRole, StaffUser
from backend.auth import routes
from backend.auth.tokens import issue_access_token, revoke_token
from backend.db import transaction
from backend.settings import Settings
from tests.auth.conftest import PASSWORD, SECRET, auth_app, committed_staff

READ = ("patients:read",)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _principal() -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF, subject_id=uuid.uuid4(), username="x", roles=frozenset()
    )


def test_entries_live_for_the_ttl_or_until_the_credential_expires() -> None:
    clock = FakeClock()
    cache = PrincipalCache(clock=clock)
    who = _principal()
    cache.put("a", who, ttl=5, generation=cache.generation)
    cache.put("b", who, ttl=5, generation=cache.generation, expires_in=2)
    cache.put("c", who, ttl=5, generation=cache.generation, expires_in=-1)  # already expired
    assert cache.get("a") is who
    assert cache.get("b") is who
    assert cache.get("c") is None
    clock.now += 2.5
    assert cache.get("a") is who
    assert cache.get("b") is None
    clock.now += 3
    assert cache.get("a") is None


def test_a_resolution_that_began_before_an_invalidation_stores_nothing() -> None:
    cache = PrincipalCache(clock=FakeClock())
    began = cache.generation
    cache.clear()  # e.g. a token was revoked while this request was reading
    cache.put("a", _principal(), ttl=5, generation=began)
    assert cache.get("a") is None


def test_zero_ttl_keeps_nothing() -> None:
    cache = PrincipalCache(clock=FakeClock())
    cache.put("a", _principal(), ttl=0, generation=cache.generation)
    assert cache.get("a") is None


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fresh process-wide cache on a clock the test moves."""
    fake = FakeClock()
    fresh = PrincipalCache(clock=fake)
    monkeypatch.setattr(cache_module, "principal_cache", fresh)
    monkeypatch.setattr(routes, "principal_cache", fresh)
    return fake


def _client(db_url: str, seconds: float) -> TestClient:
    settings = Settings(
        env="test",
        database_url=db_url,
        secret_key=SecretStr(SECRET),
        principal_cache_seconds=seconds,
    )
    return TestClient(auth_app(settings))


@pytest.fixture
def statements(engine: Engine) -> Iterator[Callable[[], int]]:
    """How many SQL statements any engine has run since the fixture started."""
    count = [0]

    def counted(*_: object) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", counted)
    yield lambda: count[0]
    event.remove(Engine, "before_cursor_execute", counted)


def _token(engine: Engine, db_url: str, user_id: uuid.UUID) -> str:
    settings = Settings(env="test", database_url=db_url, secret_key=SecretStr(SECRET))
    with transaction(engine) as session:
        return issue_access_token(
            session=session, settings=settings, staff_user_id=user_id, scopes=READ
        ).access_token


def test_a_repeated_token_is_answered_without_sql(
    engine: Engine, db_url: str, clock: FakeClock, statements: Callable[[], int]
) -> None:
    user_id, _ = committed_staff(engine, roles=(StaffRole.PHYSICIAN,))
    auth = {"Authorization": f"Bearer {_token(engine, db_url, user_id)}"}
    with _client(db_url, 5) as client:
        assert client.get("/auth/whoami", headers=auth).status_code == 200
        before = statements()
        for _ in range(3):
            assert client.get("/auth/whoami", headers=auth).status_code == 200
        assert statements() == before


def test_changes_made_elsewhere_apply_within_the_ttl(
    engine: Engine, db_url: str, clock: FakeClock
) -> None:
    user_id, _ = committed_staff(engine, roles=(StaffRole.PHYSICIAN,))
    auth = {"Authorization": f"Bearer {_token(engine, db_url, user_id)}"}
    with _client(db_url, 5) as client:
        assert client.get("/auth/whoami", headers=auth).status_code == 200
        with transaction(engine) as session:  # a direct edit: no service saw it
            session.get_one(StaffUser, user_id).active = False
        assert client.get("/auth/whoami", headers=auth).status_code == 200
        clock.now += 5.01
        assert client.get("/auth/whoami", headers=auth).status_code == 401


def test_with_the_cache_off_every_request_is_checked(
    engine: Engine, db_url: str, clock: FakeClock
) -> None:
    user_id, _ = committed_staff(engine, roles=(StaffRole.PHYSICIAN,))
    auth = {"Authorization": f"Bearer {_token(engine, db_url, user_id)}"}
    with _client(db_url, 0) as client:
        assert client.get("/auth/whoami", headers=auth).status_code == 200
        with transaction(engine) as session:
            session.get_one(StaffUser, user_id).active = False
        assert client.get("/auth/whoami", headers=auth).status_code == 401


def test_revocation_through_the_service_applies_at_once(
    engine: Engine, db_url: str, clock: FakeClock
) -> None:
    user_id, _ = committed_staff(engine, roles=(StaffRole.PHYSICIAN,))
    settings = Settings(env="test", database_url=db_url, secret_key=SecretStr(SECRET))
    with transaction(engine) as session:
        issued = issue_access_token(
            session=session, settings=settings, staff_user_id=user_id, scopes=READ
        )
    auth = {"Authorization": f"Bearer {issued.access_token}"}
    with _client(db_url, 300) as client:
        assert client.get("/auth/whoami", headers=auth).status_code == 200
        with transaction(engine) as session:
            revoke_token(session=session, jti=issued.jti)
        assert client.get("/auth/whoami", headers=auth).status_code == 401


def test_sign_out_applies_at_once(engine: Engine, db_url: str, clock: FakeClock) -> None:
    _, username = committed_staff(engine)
    with _client(db_url, 300) as client:
        client.post("/auth/login", data={"username": username, "password": PASSWORD})
        cookie = dict(client.cookies)
        assert client.get("/auth/whoami").status_code == 200
        assert client.post("/auth/logout").status_code == 204
        with _client(db_url, 300) as thief:
            for name, value in cookie.items():
                thief.cookies.set(name, value)
            assert thief.get("/auth/whoami").status_code == 401


async def test_concurrent_requests_with_one_credential_resolve_it_once(
    engine: Engine, db_url: str, clock: FakeClock, statements: Callable[[], int]
) -> None:
    import asyncio

    import httpx2 as httpx

    settings = Settings(
        env="test",
        database_url=db_url,
        secret_key=SecretStr(SECRET),
        principal_cache_seconds=5,
    )
    app = auth_app(settings)
    first, second = (committed_staff(engine)[0] for _ in range(2))
    alone = {"Authorization": f"Bearer {_token(engine, db_url, first)}"}
    crowd = {"Authorization": f"Bearer {_token(engine, db_url, second)}"}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        before = statements()
        assert (await client.get("/auth/whoami", headers=alone)).status_code == 200
        one_resolution = statements() - before
        assert one_resolution > 0
        before = statements()
        answers = await asyncio.gather(
            *(client.get("/auth/whoami", headers=crowd) for _ in range(10))
        )
        assert [a.status_code for a in answers] == [200] * 10
        assert statements() - before == one_resolution
