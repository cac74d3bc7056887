"""Engines, sessions and the declarative base every model derives from."""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Engine,
    MetaData,
    Numeric,
    String,
    Uuid,
    and_,
    bindparam,
    create_engine,
    event,
    tuple_,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from backend.common.text import SQLITE_FOLD, fold_text
from backend.common.types import JSONType, Sensitivity, SensitivityType, UTCDateTime

# Constraint names must be deterministic so Alembic can drop and alter them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: the one metadata, and how Python annotations map to columns."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        date: Date(),
        uuid.UUID: Uuid(),
        Decimal: Numeric(12, 2),
        str: String(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        Sensitivity: SensitivityType(),
        # Enums are stored by value as plain strings: no PostgreSQL ENUM types to migrate
        # every time a value is added.
        enum.Enum: SAEnum(
            enum.Enum,
            native_enum=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        ),
    }


def _driver_urls(database_url: str) -> tuple[URL, URL]:
    """Return (sync, async) SQLAlchemy URLs for one configured database URL.

    Users write plain ``sqlite:///...`` or ``postgresql://...``; the drivers are our choice:
    the standard library's sqlite3 and aiosqlite, psycopg 3 for both modes on PostgreSQL.
    """
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite"), url.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        pg = url.set(drivername="postgresql+psycopg")
        return pg, pg
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL + NORMAL: a commit survives a crash of the process (an HL7 AA, a form saved),
    # not a power cut before the next checkpoint. SQLite is the embedded default; a
    # deployment that must survive power loss runs PostgreSQL.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite has no Unicode-aware lower() or translate(); search folds text with ours.
    dbapi_connection.create_function(SQLITE_FOLD, 1, _fold_or_none, deterministic=True)


def _fold_or_none(value: str | None) -> str | None:
    return None if value is None else fold_text(value)


def narrows_row_values(session: Session) -> bool:
    """Whether a row-value IN should also get plain lists per column (:func:`row_in`):
    on SQLite, which scans for the former and searches an index for the latter."""
    return session.get_bind().dialect.name == "sqlite"


def row_in(columns: Sequence[Any], name: str, *, narrow_by: Sequence[int] = ()) -> Any:
    """``(columns) IN :name``, an expanding parameter of row tuples (see
    :func:`row_in_params`); each column at a position in ``narrow_by`` also ``IN
    :name_<position>``, a plain list of its values.

    SQLite answers a row-value IN by scanning the whole index it could have searched
    (10-16 ms at 10,000 patients, growing with them), and plain lists by searching it;
    the row-value IN still says exactly which rows. PostgreSQL plans the row-value IN
    alone as index look-ups, and the plain lists as scans of whole kinds, so it is
    narrowed by nothing (:func:`narrows_row_values`). Parameters, not values: the
    statements using it are built once."""
    exact = tuple_(*columns).in_(bindparam(name, expanding=True))
    narrow = [columns[i].in_(bindparam(f"{name}_{i}", expanding=True)) for i in narrow_by]
    return and_(exact, *narrow) if narrow else exact


def row_in_params(
    name: str, rows: Sequence[tuple[Any, ...]], *, narrow_by: Sequence[int] = ()
) -> dict[str, Any]:
    """The parameters of :func:`row_in` for these rows."""
    params: dict[str, Any] = {name: list(rows)}
    for i in narrow_by:
        params[f"{name}_{i}"] = sorted({row[i] for row in rows})
    return params


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """A synchronous engine: CLI, migrations, bulk demo data."""
    sync_url, _ = _driver_urls(database_url)
    engine = create_engine(sync_url, **kwargs)
    if sync_url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """The asynchronous engine the web app serves requests with."""
    _, async_url = _driver_urls(database_url)
    engine = create_async_engine(async_url, **kwargs)
    if async_url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together or not at all."""
    with session_factory(engine)() as session, session.begin():
        yield session


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Session]:
    """:func:`transaction` for work that writes and may open with a SAVEPOINT.

    pysqlite opens a transaction only before INSERT / UPDATE / DELETE: a SAVEPOINT sent
    first runs in autocommit mode, where it starts a transaction of its own that its
    RELEASE commits, so a rollback of the whole no longer undoes it. On SQLite this
    begins the transaction explicitly, IMMEDIATE: it writes anyway, and taking the write
    lock up front (waiting up to busy_timeout) spares the snapshot upgrade that fails
    at once when another connection committed after our first read."""
    with transaction(engine) as session:
        lock_for_writing(session)
        yield session


def lock_for_writing(session: Session) -> None:
    """On SQLite, begin the session's transaction IMMEDIATE (see
    :func:`write_transaction`); reads before it ran unlocked, outside any transaction.
    Elsewhere nothing: rows are locked as they are written (or read FOR UPDATE)."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("BEGIN IMMEDIATE")


@asynccontextmanager
async def async_transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The async twin of :func:`transaction`."""
    async with factory() as session, session.begin():
        yield session
