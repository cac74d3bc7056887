"""Patient matching speed on PostgreSQL: one incoming record against N patients, and
``patient360 mpi scan`` over a smaller index.

    PYTHONPATH=. .venv/bin/python benchmarks/mpi_speed.py --patients 1000000 --scan-patients 100000

1. Creates a fresh database and writes ``--patients`` synthetic patients (names drawn
   from Zipf-weighted syllable surnames and a list of given names, birth dates over 90
   years, a phone for most, an e-mail for some, 2% near-duplicates of another patient)
   with COPY, together with their blocking keys and match state computed by the same
   code the matcher uses (``backend.mpi.records.load``), so the index is ready.
2. Times ``match_patient`` for ``--incoming`` new records (7 in 10 new people, 2 near
   duplicates, 1 exact duplicate that links and merges): each is inserted and committed
   first, then the call and its commit are timed. Prints median and p95 over all calls
   and over the calls that did not merge (a merge moves rows in every patient table).
3. Writes ``--scan-patients`` patients (no keys) into a second fresh database and times
   the real command, ``patient360 mpi scan``, in a subprocess.

Targets (issue 4): median <= 20 ms and p95 <= 50 ms at 1,000,000 patients; the scan of
100,000 patients in <= 2 minutes.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.migrations import upgrade_to_head
from backend.mpi.matcher import match_patient
from backend.mpi.model import default_model
from backend.mpi.records import load
from backend.patients.models import ContactPoint, ContactSystem, Patient

ADMIN_URL = os.environ.get(
    "P360_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
GIVEN = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Raymond",
    "Janet",
    "Jack",
    "Catherine",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "Tyler",
    "Diane",
    "Aaron",
    "Ruth",
    "Jose",
    "Julie",
    "Adam",
    "Olivia",
    "Nathan",
    "Joyce",
    "Henry",
    "Virginia",
    "Douglas",
    "Victoria",
    "Zachary",
    "Kelly",
    "Peter",
    "Lauren",
    "Kyle",
    "Christina",
    "Ethan",
    "Joan",
    "Walter",
    "Evelyn",
    "Noah",
    "Judith",
    "Jeremy",
    "Megan",
    "Christian",
    "Andrea",
    "Keith",
    "Cheryl",
    "Roger",
    "Hannah",
    "Terry",
    "Jacqueline",
    "Gerald",
    "Martha",
    "Harold",
    "Gloria",
    "Sean",
    "Teresa",
    "Austin",
    "Ann",
    "Carl",
    "Sara",
    "Arthur",
    "Madison",
    "Lawrence",
    "Frances",
    "Dylan",
    "Kathryn",
    "Jesse",
    "Janice",
    "Jordan",
    "Jean",
    "Bryan",
    "Abigail",
    "Billy",
    "Alice",
    "Joe",
    "Judy",
    "Bruce",
    "Sophia",
    "Gabriel",
    "Grace",
    "Logan",
    "Denise",
    "Albert",
    "Amber",
    "Willie",
    "Doris",
    "Alan",
    "Marilyn",
    "Juan",
    "Danielle",
    "Wayne",
    "Beverly",
    "Elijah",
    "Isabella",
    "Randy",
    "Theresa",
    "Roy",
    "Diana",
    "Vincent",
    "Natalie",
    "Ralph",
    "Brittany",
    "Eugene",
    "Charlotte",
    "Russell",
    "Marie",
    "Bobby",
    "Kayla",
    "Mason",
    "Alexis",
    "Philip",
    "Lori",
]
SYLLABLES = [
    "an",
    "ber",
    "ca",
    "del",
    "en",
    "fer",
    "gar",
    "han",
    "ill",
    "jon",
    "kel",
    "lan",
    "mor",
    "nor",
    "ol",
    "par",
    "quin",
    "ros",
    "sal",
    "tor",
    "ul",
    "van",
    "wes",
    "xan",
    "yor",
    "zel",
    "bro",
    "chi",
    "dra",
    "eck",
    "fin",
    "gol",
    "hart",
    "ing",
    "jas",
    "kro",
    "lin",
    "mac",
    "nel",
    "ost",
    "pri",
    "rid",
    "sto",
    "tam",
    "und",
    "vin",
    "wal",
    "yat",
    "zim",
    "ash",
    "bel",
    "cor",
    "dun",
    "els",
    "fos",
    "gri",
    "hol",
    "ivo",
]


@dataclass(frozen=True, slots=True)
class Person:
    given: str
    family: str
    birth: date
    sex: str
    phone: str | None
    email: str | None


def surnames(count: int, rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        parts = rng.randint(2, 3)
        names.add("".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize())
    return sorted(names)


class Population:
    """Draws people with realistic skew: a few surnames are very common, most are rare."""

    def __init__(self, seed: int, families: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
        self.families = surnames(families, self.rng)
        self.weights = [1 / (rank + 1) ** 0.9 for rank in range(len(self.families))]
        self.cumulative = list(_accumulate(self.weights))
        self.phones = 0

    def person(self) -> Person:
        rng = self.rng
        family = rng.choices(self.families, cum_weights=self.cumulative)[0]
        given = rng.choice(GIVEN)
        birth = date(1930, 1, 1) + timedelta(days=rng.randrange(33000))
        self.phones += 1
        phone = f"+1{rng.randint(201, 989)}{rng.randint(2000000, 9999999)}"
        return Person(
            given=given,
            family=family,
            birth=birth,
            sex=rng.choice(("female", "male")),
            phone=phone if rng.random() < 0.7 else None,
            email=f"{given}.{family}{rng.randint(1, 9999)}@example.org".lower()
            if rng.random() < 0.3
            else None,
        )

    def variant(self, p: Person) -> Person:
        """The same person as another source might have them: one field slightly off."""
        rng = self.rng
        change = rng.randrange(3)
        given, birth = p.given, p.birth
        if change == 0 and len(given) > 3:
            i = rng.randrange(1, len(given) - 1)
            given = given[:i] + given[i + 1 :]  # a dropped letter
        elif change == 1 and p.birth.day <= 12:
            birth = date(p.birth.year, p.birth.day, p.birth.month)  # day and month swapped
        return Person(given, p.family, birth, p.sex, p.phone, None)


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


def raw(p: Person) -> dict[str, object]:
    """What backend.mpi.records.raw_fields reads from such a patient."""
    return {
        "given": p.given,
        "middle": None,
        "family": p.family,
        "suffix": None,
        "birth_date": p.birth,
        "sex": p.sex,
        "phones": [p.phone] if p.phone else [],
        "emails": [p.email] if p.email else [],
        "address_lines": [],
        "locality": None,
        "postcode": None,
        "national_id": None,
        "identifiers": [],
    }


def fresh_database(tag: str) -> tuple[str, str]:
    name = f"p360_bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    return url, name


def drop_database(name: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def write_population(url: str, people: list[Person], *, with_keys: bool) -> float:
    """COPY the patients, their phones and e-mails, and (``with_keys``) their index rows."""
    started = time.perf_counter()
    now = datetime.now(UTC).isoformat()
    patients, contacts, keys, states = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
    for p in people:
        pid = uuid.uuid4()
        patients.write(
            f"{pid}\t{p.given}\t{p.family}\t{p.birth.isoformat()}\t{p.sex}\ten\tf\tactive\t"
            f"bench\t{pid.hex}\t{now}\t{now}\t1\n"
        )
        for system, value in (("phone", p.phone), ("email", p.email)):
            if value:
                cid = uuid.uuid4()
                contacts.write(
                    f"{cid}\t{pid}\t{system}\t{value}\t1\tf\tbench\t{cid.hex}\t0\t{now}\t{now}\t1\n"
                )
        if with_keys:
            loaded = load(raw(p), pid)
            for kind, value in loaded.keys:
                keys.write(f"{pid}\t{kind}\t{value}\n")
            states.write(f"{pid}\t{loaded.fingerprint}\t{now}\n")
    copies = [
        (
            "patient (id, given_name, family_name, birth_date, sex, language, "
            "interpreter_needed, status, source_system, source_id, recorded_at, updated_at, "
            "version)",
            patients,
        ),
        (
            "contact_point (id, patient_id, system, value, rank, verified, source_system, "
            "source_id, sensitivity, recorded_at, updated_at, version)",
            contacts,
        ),
        ("patient_match_key (patient_id, kind, value)", keys),
        ("patient_match_state (patient_id, fingerprint, changed_at)", states),
    ]
    with psycopg.connect(_libpq(url)) as conn, conn.cursor() as cur:
        for target, buffer in copies:
            data = buffer.getvalue()
            if not data:
                continue
            with cur.copy(f"COPY {target} FROM STDIN") as copy:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start : start + (1 << 20)])
    # VACUUM as autovacuum would on a live server: it sets the visibility map, without
    # which the candidate lookup's index-only scan reads the heap after all.
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def population(n: int, seed: int) -> tuple[Population, list[Person]]:
    pop = Population(seed, families=max(2000, n // 40))
    people: list[Person] = []
    for _ in range(n):
        if people and pop.rng.random() < 0.02:
            people.append(pop.variant(pop.rng.choice(people)))
        else:
            people.append(pop.person())
    return pop, people


def time_incoming(
    url: str, pop: Population, people: list[Person], count: int, warmup: int = 5
) -> None:
    """Time ``count`` calls after ``warmup`` untimed ones: a matcher serves for hours,
    and its first calls pay one-off costs (statement caches, phone metadata loaded on
    first use) that no later call does."""
    engine = make_engine(url)
    model = default_model()
    timings: list[float] = []
    unmerged: list[float] = []  # calls that only scored and wrote suggestions
    outcomes = {"review": 0, "auto_links": 0, "merges": 0, "compared": 0}
    cpu_ms = 0.0  # this process's CPU time in the calls (the server's is not counted)
    with Session(engine) as session:
        for i in range(-warmup, count):
            kind = i % 10  # 7 new people, 2 near-duplicates, 1 exact duplicate in 10
            existing = pop.rng.choice(people)
            person = pop.person() if kind < 7 else pop.variant(existing) if kind < 9 else existing
            pid = uuid.uuid4()
            session.add(
                Patient(
                    id=pid,
                    given_name=person.given,
                    family_name=person.family,
                    birth_date=person.birth,
                    source_system="bench-in",
                )
            )
            session.flush()
            if person.phone:
                session.add(
                    ContactPoint(patient_id=pid, system=ContactSystem.PHONE, value=person.phone)
                )
            if person.email:
                session.add(
                    ContactPoint(patient_id=pid, system=ContactSystem.EMAIL, value=person.email)
                )
            session.commit()
            started, cpu = time.perf_counter(), time.process_time()
            summary = match_patient(session, pid, model=model, now=datetime.now(UTC))
            session.commit()
            if i < 0:
                continue  # a warm-up call
            timings.append((time.perf_counter() - started) * 1000)
            cpu_ms += (time.process_time() - cpu) * 1000
            if not summary.merges:
                unmerged.append(timings[-1])
            outcomes["review"] += summary.review
            outcomes["auto_links"] += summary.auto_links
            outcomes["merges"] += summary.merges
            outcomes["compared"] += summary.pairs_compared
    engine.dispose()
    for label, values in (("all calls", timings), ("calls without a merge", unmerged)):
        values.sort()
        p95 = values[max(0, int(len(values) * 0.95) - 1)]
        print(
            f"match_patient, {label} (n={len(values)}): median "
            f"{statistics.median(values):.1f} ms, p95 {p95:.1f} ms, max {values[-1]:.1f} ms"
            "  (targets 20 / 50 ms)"
        )
    print(f"  client CPU time per call: mean {cpu_ms / max(count, 1):.1f} ms")
    print(
        f"  pairs compared {outcomes['compared']}, review {outcomes['review']}, "
        f"auto links {outcomes['auto_links']}, merges {outcomes['merges']}"
    )


def time_scan(n: int, seed: int, keep: bool) -> None:
    url, name = fresh_database("scan")
    try:
        _, people = population(n, seed + 1)
        seconds = write_population(url, people, with_keys=False)
        print(f"scan database: {n:,} patients written in {seconds:.1f} s")
        env = dict(os.environ, DATABASE_URL=url, P360_ENV="development")
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", "from backend.cli import main; main()", "mpi", "scan"],
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"mpi scan failed: {done.stderr[-2000:]}")
        elapsed = time.perf_counter() - started
        print(f"patient360 mpi scan over {n:,} patients: {elapsed:.1f} s  (target 120 s)")
        print("  " + " ".join(done.stdout.split()))
    finally:
        if keep:
            print(f"scan database kept: {name}")
        else:
            drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--incoming", type=int, default=200)
    parser.add_argument("--scan-patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-match", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE",
        help="Time matching in this database, kept by an earlier --keep run with the same "
        "--patients and --seed, instead of writing a fresh one (its earlier incoming "
        "records stay).",
    )
    args = parser.parse_args()
    if not args.skip_match:
        if args.reuse:
            url = make_url(ADMIN_URL).set(database=args.reuse).render_as_string(hide_password=False)
            name = args.reuse
        else:
            url, name = fresh_database("match")
        try:
            started = time.perf_counter()
            pop, people = population(args.patients, args.seed)
            made = time.perf_counter() - started
            if args.reuse:
                # Fresh incoming records: the earlier run's are in the database now and
                # the same draws would all merge with them.
                pop.rng.seed(uuid.uuid4().int)
            else:
                seconds = write_population(url, people, with_keys=True)
                print(
                    f"{args.patients:,} patients generated in {made:.1f} s, written with "
                    f"their keys in {seconds:.1f} s"
                )
            time_incoming(url, pop, people, args.incoming)
        finally:
            if args.keep or args.reuse:
                print(f"match database kept: {name}")
            else:
                drop_database(name)
    if not args.skip_scan:
        time_scan(args.scan_patients, args.seed, args.keep)


if __name__ == "__main__":
    main()
