"""``patient360 demo``: write a whole demo clinic in one transaction, in bulk."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from types import ModuleType

from sqlalchemy import Connection, Engine, func, select

from backend.accounts.models import StaffUser
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
from backend.demo.context import DemoContext, PatientSeed, demo_now
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
) -> DemoReport:
    """Write the demo clinic and ``patients_count`` patients; all of it or nothing."""
    started = time.perf_counter()
    per_table: Counter[str] = Counter()
    with engine.begin() as connection:
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
        _flush(sink, connection, per_table)
        pairs = 0
        for start in range(0, patients_count, CHUNK):
            stop = min(start + CHUNK, patients_count)
            sink = RowSink(_rng(seed, f"chunk-{start}"), recorded_at=ctx.now)
            seeds = _chunk(ctx, sink, start, stop)
            if start == 0:
                found = patients.near_duplicates(ctx, seeds, sink)
                identity.duplicate_links(ctx, found[:3], sink)
                pairs = len(found)
            _flush(sink, connection, per_table)
            if progress is not None:
                progress(stop - start)
    return DemoReport(
        patients=patients_count,
        rows=sum(per_table.values()),
        seconds=time.perf_counter() - started,
        logins=logins,
        per_table=per_table,
        duplicate_pairs=pairs,
    )


def _chunk(ctx: DemoContext, sink: RowSink, start: int, stop: int) -> list[PatientSeed]:
    seeds = [patients.make_seed(ctx, index) for index in range(start, stop)]
    for seed in seeds:
        for generator in GENERATORS:
            generator.patient_rows(ctx, seed, sink)
    return seeds


def _flush(sink: RowSink, connection: Connection, per_table: Counter[str]) -> None:
    for table, rows in sink.rows.items():
        per_table[table.name] += len(rows)
    sink.flush(connection)


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(f"{seed}:{name}")
