"""Fixtures for authentication: staff users, and an app serving the auth routes over HTTP.

HTTP tests need committed rows (the app has its own connections), so they create staff
with unique names through :func:`committed_staff`; each test also uses its own client
address so per-address throttling in one test never touches another.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.accounts.passwords import hash_password
from backend.auth.routes import auth_routes
from backend.db import async_session_factory, make_async_engine, transaction
from backend.settings import Settings

PASSWORD = "correct horse battery staple"
SECRET = "auth-tests-secret-" + "k" * 40
PASSWORD_HASH = hash_password(PASSWORD)  # once: argon2 is slow on purpose


def add_staff(
    session: Session,
    *,
    roles: tuple[StaffRole, ...] = (StaffRole.NURSE,),
    active: bool = True,
    password_hash: str | None = PASSWORD_HASH,
) -> StaffUser:
    user = StaffUser(
        username=f"u-{uuid.uuid4().hex[:12]}",
        display_name="Test Staff",
        password_hash=password_hash,
        active=active,
    )
    session.add(user)
    session.flush()
    for role in roles:
        session.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
    session.flush()
    return user


def committed_staff(
    engine: Engine,
    *,
    roles: tuple[StaffRole, ...] = (StaffRole.NURSE,),
    active: bool = True,
    password_hash: str | None = PASSWORD_HASH,
) -> tuple[uuid.UUID, str]:
    """A staff user committed for the app to see: (id, username)."""
    with transaction(engine) as session:
        user = add_staff(session, roles=roles, active=active, password_hash=password_hash)
        return user.id, user.username


def new_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(env="test", database_url=db_url, secret_key=SecretStr(SECRET))


def auth_app(settings: Settings) -> Starlette:
    """What create_app provides the routes: settings and an async sessionmaker."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_async_engine(settings.database_url)
        app.state.sessions = async_session_factory(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = Starlette(routes=auth_routes(), lifespan=lifespan)
    app.state.settings = settings
    return app


@pytest.fixture
def http(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """``http(address=None)``: a client from its own address, closed after the test."""
    opened: list[TestClient] = []

    def make(address: str | None = None) -> TestClient:
        client = TestClient(auth_app(settings), client=(address or new_address(), 40000))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
