"""The matcher's merge path, call by call: ``match_patient`` for exact duplicates of
patients already in a kept ``mpi_speed.py`` database, so every timed call merges.

    PYTHONPATH=. .venv/bin/python benchmarks/mpi_speed.py --patients 1000000 --skip-scan --keep
    PYTHONPATH=. .venv/bin/python benchmarks/mpi_merge_profile.py p360_bench_match_<id> \
        --calls 40 [--profile merges.prof] [--sql]

Each incoming record copies a random live patient's names, birth date, phone and
e-mail (the mix ``mpi_speed.py`` times has one such record in ten, and two near ones).
It is inserted and committed first; then the call and its commit are timed (wall and
this process's CPU time) and its SQL statements counted, after five untimed calls.
``--profile`` writes the timed calls' cProfile and prints the matcher's and the
merge's functions per call; ``--sql`` prints statement time per call by statement.
Each run leaves its merged records in the database, as ``--reuse`` runs do.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.mpi.matcher import match_patient
from backend.mpi.model import default_model
from backend.patients.models import ContactPoint, ContactSystem, Patient

ADMIN_URL = os.environ.get(
    "P360_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# The functions printed per call with --profile (cumulative time).
WATCHED = (
    "match_patient",
    "match_loaded",
    "merge_and_look_again",
    "merge_patients",
    "refresh_keys",
    "audit_pair",
    "move_rows",
    "lock_patients",
    "pending_automatic_links",
)


def _duplicate(session: Session, rng: random.Random, total: int) -> uuid.UUID:
    """Insert and commit a copy of a random live benchmark patient; its id."""
    row = None
    while row is None:
        row = session.execute(
            text(
                "SELECT id, given_name, family_name, birth_date FROM patient "
                "WHERE source_system = 'bench' AND status = 'active' OFFSET :skip LIMIT 1"
            ),
            {"skip": rng.randrange(total)},
        ).first()
    contacts = session.execute(
        text("SELECT system, value FROM contact_point WHERE patient_id = :p"), {"p": row.id}
    ).all()
    pid = uuid.uuid4()
    session.add(
        Patient(
            id=pid,
            given_name=row.given_name,
            family_name=row.family_name,
            birth_date=row.birth_date,
            source_system="bench-in",
        )
    )
    session.flush()
    for system, value in contacts:
        session.add(ContactPoint(patient_id=pid, system=ContactSystem(system), value=value))
    session.commit()
    return pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="a database kept by mpi_speed.py --keep")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--profile", metavar="FILE", help="write the timed calls' cProfile")
    parser.add_argument("--sql", action="store_true", help="statement time per call")
    args = parser.parse_args()
    url = make_url(ADMIN_URL).set(database=args.database).render_as_string(hide_password=False)
    engine = make_engine(url)
    counting = False
    seen: Counter[str] = Counter()
    spent: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _done(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if counting:
            key = " ".join(statement.split())[:120]
            seen[key] += 1
            spent[key] += time.perf_counter() - conn.info["bench_started"]

    model = default_model()
    rng = random.Random(args.seed)  # noqa: S311 (which patients to copy, not a secret)
    profile = cProfile.Profile()
    wall: list[float] = []
    cpu: list[float] = []
    merges = 0
    with Session(engine) as session:
        total = session.execute(
            text("SELECT count(*) FROM patient WHERE source_system = 'bench'")
        ).scalar_one()
        for i in range(-args.warmup, args.calls):
            pid = _duplicate(session, rng, total)
            timed = i >= 0
            counting = timed
            started, cpu_started = time.perf_counter(), time.process_time()
            if timed and args.profile:
                profile.enable()
            summary = match_patient(session, pid, model=model, now=datetime.now(UTC))
            session.commit()
            if timed and args.profile:
                profile.disable()
            counting = False
            if timed:
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                merges += summary.merges
    engine.dispose()
    calls = len(wall)
    wall.sort()
    print(
        f"match_patient of an exact duplicate (n={calls}, {merges} merges): wall median "
        f"{statistics.median(wall):.1f} ms, p95 {wall[max(0, int(calls * 0.95) - 1)]:.1f} ms; "
        f"client CPU mean {statistics.mean(cpu):.1f} ms; "
        f"SQL statements per call {sum(seen.values()) / calls:.1f}"
    )
    if args.sql:
        for key, count in sorted(seen.items(), key=lambda kv: -spent[kv[0]])[:25]:
            print(f"  {count / calls:4.1f}/call {spent[key] * 1000 / calls:6.2f} ms  {key}")
    if args.profile:
        profile.dump_stats(args.profile)
        stats: dict[tuple[str, int, str], Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        for (path, _, name), (_, ncalls, _, cumulative, _) in sorted(
            stats.items(), key=lambda kv: -kv[1][3]
        ):
            if name in WATCHED and "/backend/" in path:
                print(
                    f"  {name:<24} {cumulative * 1000 / calls:6.1f} ms per call "
                    f"({ncalls / calls:.1f} calls)"
                )


if __name__ == "__main__":
    main()
