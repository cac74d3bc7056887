"""FHIR import throughput on SQLite: resources per second, next to a raw bulk insert.

    PYTHONPATH=. .venv/bin/python benchmarks/fhir_import.py --copies 40 [--validate-ahead]

Imports ``--copies`` re-identified copies of every Synthea bundle in
/work/shared/fixtures/fhir/synthea (fresh UUIDs, so every copy creates new rows) into a
fresh SQLite database, one transaction per bundle as the CLI does, with validation,
mapping, upsert checks and auditing. The floor is the same rows, read back afterwards,
inserted into a second fresh database with one executemany per table and no checks.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.interop.fhir.ahead import AHEAD
from backend.interop.fhir.importer import WRITE_ORDER, import_batch
from backend.interop.fhir.reader import bundle_from_json
from backend.interop.fhir.validation import Validated, validate_batch
from backend.migrations import upgrade_to_head
from backend.models import metadata

FIXTURES = Path("/work/shared/fixtures/fhir/synthea")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _renamer() -> Callable[[re.Match[str]], str]:
    """The same new UUID for every occurrence of an old one, within one copy."""
    mapping: dict[str, str] = {}
    return lambda m: mapping.setdefault(m[0], str(uuid.uuid4()))


def copies(n: int) -> list[dict[str, object]]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.json"))]
    out = []
    for _ in range(n):
        for text in texts:
            out.append(json.loads(_UUID.sub(_renamer(), text)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument(
        "--validate-ahead",
        action="store_true",
        help="validate in a worker process ahead of the writes (what the CLI does)",
    )
    args = parser.parse_args()
    bundles = copies(args.copies)
    resources = sum(len(b["entry"]) for b in bundles)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/import.db"
        upgrade_to_head(url)
        engine = make_engine(url)
        batches = [bundle_from_json(b, label=f"copy-{i}") for i, b in enumerate(bundles)]
        pool = None
        if args.validate_ahead:
            # As `patient360 import fhir` does with files: one worker validates ahead.
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
            pool.submit(validate_batch, batches[0]).result()  # start-up is not import time
        start, cpu = time.perf_counter(), time.process_time()
        ahead: deque[Future[Validated]] = deque()
        if pool is not None:
            ahead.extend(pool.submit(validate_batch, b) for b in batches[:AHEAD])
        for i, batch in enumerate(batches):
            validated = None
            if pool is not None:
                if i + AHEAD < len(batches):
                    ahead.append(pool.submit(validate_batch, batches[i + AHEAD]))
                validated = ahead.popleft().result()
            with Session(engine) as session, session.begin():
                report = import_batch(
                    session=session, batch=batch, ssn_key=b"k" * 32, validated=validated
                )
                assert report.ok, report.problems
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        if pool is not None:
            pool.shutdown()
        with engine.connect() as conn:
            rows = {
                name: [dict(r) for r in conn.execute(select(metadata.tables[name])).mappings()]
                for name in WRITE_ORDER
            }
        engine.dispose()
        floor_url = f"sqlite:///{tmp}/floor.db"
        upgrade_to_head(floor_url)
        floor_engine = make_engine(floor_url)
        total_rows = sum(len(v) for v in rows.values())
        start = time.perf_counter()
        with floor_engine.begin() as conn:
            for name in WRITE_ORDER:
                if rows[name]:
                    conn.execute(insert(metadata.tables[name]), rows[name])
        floor = time.perf_counter() - start
        floor_engine.dispose()
    print(f"bundles {len(bundles)}, resources {resources}, rows written {total_rows}")
    print(f"import : {elapsed:7.2f} s  {resources / elapsed:9,.0f} resources/s")
    # The machine is shared: CPU seconds of this process say what it costs, wall seconds
    # what it took; both are printed with the load average.
    print(
        f"import : {cpu:7.2f} s CPU  {resources / cpu:9,.0f} resources per CPU second"
        + (" (this process; validation ran in a worker)" if args.validate_ahead else "")
    )
    print(f"floor  : {floor:7.2f} s  {resources / floor:9,.0f} resources/s (raw bulk insert)")
    print(f"import / floor: x{elapsed / floor:.1f}")
    print(f"load average: {Path('/proc/loadavg').read_text().split()[0:3]}")


if __name__ == "__main__":
    main()
