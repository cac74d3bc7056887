"""How fast the demo clinic loads: ``python benchmarks/seed_demo.py --patients 100000``.

Builds a fresh, migrated database per backend, seeds it, and prints patients, rows,
seconds and rows per second, with the in-process path (no worker) as the baseline so the
effect of generating in a worker process is visible as a ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from backend.db import make_engine
from backend.demo.seed import seed_demo
from backend.migrations import upgrade_to_head

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fresh(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}", None
    name = f"p360_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql://postgres@127.0.0.1:5432/{name}", name


def drop(name: str | None) -> None:
    if name is None:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run(backend: str, patients: int, worker: bool, workdir: Path) -> float:
    url, name = fresh(backend, workdir)
    try:
        upgrade_to_head(url)
        engine = make_engine(url)
        started = time.perf_counter()
        report = seed_demo(
            engine,
            patients_count=patients,
            seed=360,
            today=date(2026, 11, 1),
            secret_key="b" * 40,
            worker=worker,
        )
        seconds = time.perf_counter() - started
        engine.dispose()
    finally:
        drop(name)
    mode = "worker" if worker else "in-process"
    print(
        f"{backend:<10} {mode:<10} {patients:>9,} patients {report.rows:>11,} rows "
        f"{seconds:8.1f} s {report.rows / seconds:>9,.0f} rows/s "
        f"{report.rows / patients:5.1f} rows/patient",
        flush=True,
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run in-process (no worker) and print the speed-up",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            fast = run(backend, args.patients, True, Path(tmp))
            if args.baseline:
                slow = run(backend, args.patients, False, Path(tmp))
                print(f"{backend:<10} worker speed-up x{slow / fast:.2f}")


if __name__ == "__main__":
    main()
