"""Real databases for every test: a SQLite file and a fresh PostgreSQL database.

Tests that take ``db_url``, ``engine`` or ``session`` run once per backend. Each test's
``session`` lives inside an outer transaction that is rolled back, so tests never see
each other's rows. PostgreSQL comes from ``P360_TEST_PG_ADMIN_URL`` (default: the local
server as user postgres); it is never skipped: a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.migrations import upgrade_to_head
from backend.models import metadata

PG_ADMIN_URL = os.environ.get(
    "P360_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")


def _create_pg_database() -> tuple[str, str]:
    name = f"p360_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # one clear line instead of a driver traceback per test
        pytest.fail(
            f"PostgreSQL is required for the test suite and is not reachable at "
            f"{make_url(PG_ADMIN_URL).render_as_string(hide_password=True)}: {exc}",
            pytrace=False,
        )
    finally:
        admin.dispose()
    url = make_url(PG_ADMIN_URL).set(database=name, drivername="postgresql")
    return url.render_as_string(hide_password=False), name


def _drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def fresh_database_url(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], str]]:
    """A factory of empty databases: ``fresh_database_url("sqlite" | "postgresql")``."""
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            path: Path = tmp_path_factory.mktemp("db") / "p360.sqlite"
            return f"sqlite:///{path}"
        url, name = _create_pg_database()
        created.append(name)
        return url

    yield make
    for name in created:
        _drop_pg_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]) -> str:
    """A migrated database on each backend, shared by the session's tests."""
    url = fresh_database_url(request.param)
    if os.environ.get("P360_TEST_SCHEMA") == "metadata" and not os.environ.get("CI"):
        # Developers' shortcut while models change faster than migrations; CI never uses it.
        engine = make_engine(url)
        metadata.create_all(engine)
        engine.dispose()
    else:
        upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose every change is rolled back after the test (commits included)."""
    with engine.connect() as connection:
        outer = connection.begin()
        if engine.dialect.name == "sqlite":
            # pysqlite sends BEGIN only before a write: the test's first SAVEPOINT would
            # open a transaction of its own that its RELEASE (the test's commit) commits
            # for good, leaking rows into later tests (see backend.db.write_transaction).
            connection.exec_driver_sql("BEGIN")
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as sess:
            yield sess
        outer.rollback()
