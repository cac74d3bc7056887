"""``patient360 demo``: write a whole demo clinic in one transaction, in bulk."""

from __future__ import annotations

import functools
import os
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from types import ModuleType
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect

from backend.accounts.models import StaffUser
from backend.bulk import write_prepared
from backend.demo import (
    billing,
    careplans,
    clinical,
    engagement,
    forms,
    identity,
    journey,
    patients,
    scheduling,
)
from backend.demo.clinic import DemoLogin, build_clinic
from backend.demo.context import DemoContext, demo_now
from backend.demo.portal import PortalLogin, add_portal_logins
from backend.demo.sink import RowSink
from backend.models import metadata
from backend.patients.identifiers import ssn_key

# Order matters: a generator may read patient.facts left by the ones before it.
GENERATORS: tuple[ModuleType, ...] = (
    patients,
    journey,
    scheduling,
    clinical,
    billing,
    careplans,
    forms,
    engagement,
)
CHUNK = 1000


class DemoRefusedError(RuntimeError):
    """The database already holds data and the caller did not ask to replace it."""


@dataclass
class DemoReport:
    patients: int
    rows: int
    seconds: float
    logins: list[DemoLogin]
    portal_logins: list[PortalLogin] = field(default_factory=list)
    per_table: Counter[str] = field(default_factory=Counter)
    duplicate_pairs: int = 0


def has_data(connection: Connection) -> bool:
    return bool(connection.scalar(select(func.count()).select_from(StaffUser)))


def clear(connection: Connection) -> None:
    """Delete every row of every table (children first); the schema stays."""
    for table in reversed(metadata.sorted_tables):
        connection.execute(table.delete())


def seed_demo(
    engine: Engine,
    *,
    patients_count: int,
    seed: int,
    today: date,
    secret_key: str,
    reset: bool = False,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    worker: bool | None = None,
) -> DemoReport:
    """Write the demo clinic and ``patients_count`` patients; all of it or nothing.

    Chunks of patients are generated and converted to driver-ready tuples in worker
    processes while this one writes earlier chunks in order: generation is pure Python and
    the slower half, writing is mostly the database's time. ``worker`` defaults to on for
    large runs; the output is the same either way (a test holds it to that).
    """
    started = time.perf_counter()
    per_table: Counter[str] = Counter()
    use_worker = patients_count > 4 * chunk if worker is None else worker
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            # Random UUID keys touch index pages all over the file; with SQLite's default
            # 2 MB page cache a 100,000-patient load thrashes. This connection only.
            connection.exec_driver_sql("PRAGMA cache_size=-1048576")  # 1 GiB
        if has_data(connection):
            if not reset:
                raise DemoRefusedError(
                    "the database already has data; add --reset to replace it with demo data"
                )
            clear(connection)
        sink = RowSink(_rng(seed, "clinic-ids"), recorded_at=demo_now(today))
        ctx, logins = build_clinic(seed, today, sink)
        ctx.shared["patients.ssn_key"] = ssn_key(secret_key)
        for generator in GENERATORS:
            generator.setup(ctx, sink)
        _write(connection, sink.prepared(connection.dialect), per_table)
        pairs = 0
        bounds = [
            (start, min(start + chunk, patients_count)) for start in range(0, patients_count, chunk)
        ]
        for rows, found, count in _generated(
            ctx, seed, bounds, connection.dialect.name, use_worker
        ):
            _write(connection, rows, per_table)
            pairs += found
            if progress is not None:
                progress(count)
        portal_logins = add_portal_logins(connection, now=demo_now(today))
        per_table["portal_account"] += len(portal_logins)
    return DemoReport(
        patients=patients_count,
        rows=sum(per_table.values()),
        seconds=time.perf_counter() - started,
        logins=logins,
        portal_logins=portal_logins,
        per_table=per_table,
        duplicate_pairs=pairs,
    )


Prepared = list[tuple[str, list[tuple[Any, ...]]]]


def generate_chunk(
    ctx: DemoContext, seed: int, start: int, stop: int, dialect_name: str
) -> tuple[Prepared, int, int]:
    """Generate patients [start, stop) as driver-ready rows: (rows, near-duplicates, count).

    Module-level and free of open connections so a worker process can run it.
    """
    sink = RowSink(_rng(seed, f"chunk-{start}"), recorded_at=ctx.now)
    seeds = [patients.make_seed(ctx, index) for index in range(start, stop)]
    for patient in seeds:
        for generator in GENERATORS:
            generator.patient_rows(ctx, patient, sink)
    found = []
    if start == 0:
        found = patients.near_duplicates(ctx, seeds, sink)
        identity.duplicate_links(ctx, found, sink)
    rows = [(table.name, data) for table, data in sink.prepared(_dialect(dialect_name))]
    return rows, len(found), stop - start


def _generated(
    ctx: DemoContext,
    seed: int,
    bounds: list[tuple[int, int]],
    dialect_name: str,
    use_worker: bool,
) -> Iterator[tuple[Prepared, int, int]]:
    if not use_worker:
        for start, stop in bounds:
            yield generate_chunk(ctx, seed, start, stop, dialect_name)
        return
    # One worker per core: generation is the slow half, and this process mostly waits on
    # the database. spawn, not fork: the parent holds an open connection a fork would share.
    workers = max(1, os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending: deque[Future[tuple[Prepared, int, int]]] = deque()
        for start, stop in bounds:
            pending.append(pool.submit(generate_chunk, ctx, seed, start, stop, dialect_name))
            if len(pending) > workers + 1:  # bounded memory: a few chunks in flight
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@functools.cache
def _dialect(name: str) -> Dialect:
    if name == "postgresql":
        return PGDialect_psycopg()  # type: ignore[no-untyped-call]
    return SQLiteDialect_pysqlite()


def _write(
    connection: Connection,
    rows: Prepared | list[tuple[Table, list[tuple[Any, ...]]]],
    per_table: Counter[str],
) -> None:
    tables = metadata.tables
    for table, data in rows:
        target = tables[table] if isinstance(table, str) else table
        write_prepared(connection, target, data)
        per_table[target.name] += len(data)


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}")
