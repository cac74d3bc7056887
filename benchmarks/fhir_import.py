"""FHIR import throughput on SQLite: resources per second, next to a raw bulk insert.

    PYTHONPATH=. .venv/bin/python benchmarks/fhir_import.py --copies 40 [--distinct]
        [--validate-ahead]

Imports ``--copies`` re-identified copies of every Synthea bundle in
/work/shared/fixtures/fhir/synthea (fresh UUIDs, so every copy creates new rows) into a
fresh SQLite database, one transaction per bundle as the CLI does, with validation,
mapping, upsert checks, the patient matcher and auditing. The floor is the same rows,
read back afterwards, inserted into a second fresh database with one executemany per
table and no checks.

By default every copy is the same person again (same name, birth date, phone, address):
the matcher links each new copy to the first and merges it, so this measures the worst
case, a load made only of duplicates. ``--distinct`` gives each copy a person of its own
(other name, birth date, phone, street number, identifiers), as a bulk load of new
patients is: the matcher still indexes, blocks and scores every patient.
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
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.identity.models import IdentityLink, LinkKind, LinkStatus
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


_SYLLABLES = ("bar", "cel", "dov", "fen", "gil", "hur", "jas", "kor", "lim", "mun", "nev", "pol")


def _person(resource: dict[str, Any], number: int) -> None:
    """Make a Patient resource someone else: copy ``number`` gets its own name (other
    sounds, so other phonetic keys), birth date, phone, street number and identifiers."""
    sounds = [_SYLLABLES[(number // 12**i) % 12] for i in range(3)]
    for name in resource.get("name", []):
        name["family"] = "".join(sounds).capitalize()
        name["given"] = [(sounds[1] + sounds[0] + "a").capitalize()]
    born = date.fromisoformat(resource["birthDate"]) - timedelta(days=37 * number + 1)
    resource["birthDate"] = born.isoformat()
    for point in resource.get("telecom", []):
        point["value"] = f"555-{number // 10000 % 1000:03d}-{number % 10000:04d}"
    for address in resource.get("address", []):
        address["line"] = [f"{number + 1} {line}" for line in address.get("line", [])]
    for ident in resource.get("identifier", []):
        if ident.get("value") and not _UUID.fullmatch(ident["value"]):
            ident["value"] = f"{ident['value']}{number}"


def copies(n: int, *, distinct: bool = False) -> list[dict[str, Any]]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.json"))]
    out = []
    for copy in range(n):
        for i, text in enumerate(texts):
            bundle = json.loads(_UUID.sub(_renamer(), text))
            if distinct:
                for entry in bundle["entry"]:
                    if entry["resource"]["resourceType"] == "Patient":
                        _person(entry["resource"], copy * len(texts) + i)
            out.append(bundle)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument(
        "--validate-ahead",
        action="store_true",
        help="validate in a worker process ahead of the writes (what the CLI does)",
    )
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="each copy a person of its own (default: the same people again, all merged)",
    )
    args = parser.parse_args()
    bundles = copies(args.copies, distinct=args.distinct)
    resources = sum(len(b["entry"]) for b in bundles)
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
            links: dict[LinkKind, int] = {
                kind: count
                for kind, count in conn.execute(
                    select(IdentityLink.kind, func.count())
                    .where(IdentityLink.status != LinkStatus.REJECTED)
                    .group_by(IdentityLink.kind)
                )
            }
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
    print(
        f"matcher: {links.get(LinkKind.MERGED_INTO, 0)} patients merged, "
        f"{links.get(LinkKind.POSSIBLE_DUPLICATE, 0)} duplicate links "
        f"({'distinct people' if args.distinct else 'the same people again'})"
    )
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
