"""HL7 v2 over MLLP on loopback: messages per second, next to a raw bulk insert floor.

    python benchmarks/hl7_mllp.py [--messages 2000] [--connections 1 2 4]
        [--ack-after applied stored] [--preload N] [--database postgresql://...]

Each message is an ADT^A04 for a new patient (patient, MRN identifier, address, phone,
and the stored raw message with its ACK). With ``--ack-after applied`` the listener
parses, stores, maps and acknowledges it before the sender sends the next one on that
connection; with ``stored`` it acknowledges once the raw message is stored and its
applier process applies it right after. The senders run in processes of their own, as
real senders do (one per connection), started before the clock. Each run prints the
ACK rate (first send to last ACK) and the applied rate (first send until every message
is processed, polled from the message table): the applied rate is the sustained one;
and the CPU each message cost the listener's process and its applier's. The floor
inserts the same rows with one executemany per table in a single transaction: no
parsing, no ACK, no per-message commit.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, Table, func, insert, select, text
from sqlalchemy.engine import make_url

from backend.db import make_engine, transaction, write_transaction
from backend.interop.hl7v2.apply import apply_all
from backend.interop.hl7v2.listener import END, AckAfter, Listener, frame
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.store import store
from backend.migrations import upgrade_to_head
from backend.patients.models import Address, ContactPoint, Patient, PatientIdentifier

SECRET = "benchmark-secret-" + "b" * 40


GIVEN = [
    "JANE",
    "JOHN",
    "MARIA",
    "DAVID",
    "LINDA",
    "JAMES",
    "SUSAN",
    "ROBERT",
    "KAREN",
    "MICHAEL",
    "NANCY",
    "WILLIAM",
    "LISA",
    "THOMAS",
    "ANNA",
    "PETER",
    "GRACE",
    "OMAR",
    "FATIMA",
    "WEI",
    "YUKI",
    "CARLOS",
    "SOFIA",
    "IVAN",
    "OLGA",
    "AMIT",
    "PRIYA",
    "KOFI",
    "AMARA",
    "LIAM",
    "EMMA",
    "NOAH",
    "ZOE",
    "ELI",
    "RUTH",
    "SAUL",
    "NORA",
    "HUGO",
    "IDA",
]
SYLLABLES = [
    "BAR",
    "KEL",
    "MOR",
    "TIN",
    "VAS",
    "DUN",
    "FEL",
    "GOR",
    "HAM",
    "JOR",
    "LAN",
    "MIR",
    "NOV",
    "PAL",
    "RIC",
    "SAN",
    "TOR",
    "WEL",
    "ZAK",
    "QUI",
]
STREETS = ["MAIN", "OAK", "ELM", "PINE", "MAPLE", "CEDAR", "LAKE", "HILL", "PARK", "RIVER"]


def message(run: str, n: int) -> str:
    """A registration of person ``n``: names, birth date, address and phone spread so
    that people are distinct (the matcher finds a few candidates, as in a real feed, and
    merges none); ``DOE{n}`` with one birth date would make every message a duplicate
    of the last and measure one automatic merge per message instead."""
    family = "".join(SYLLABLES[(n // 20**i + i * 7) % 20] for i in range(3))
    given = GIVEN[(n * 7) % len(GIVEN)]
    born = date(1930, 1, 1) + timedelta(days=(n * 7919) % 30000)
    street = f"{n % 997 + 1} {STREETS[n % len(STREETS)]} ST"
    postcode = f"{62000 + (n * 31) % 900:05d}"
    return "\r".join(
        [
            f"MSH|^~\\&|BENCH|FAC{run}|P360|CLINIC|20240105101500||ADT^A04|{run}-{n}|P|2.5.1",
            "EVN|A04|20240105101500",
            f"PID|1||{run}{n:07d}^^^FAC{run}^MR||{family}^{given}^Q||{born:%Y%m%d}|"
            f"{'FM'[n % 2]}|||{street}^^SPRINGFIELD^IL^{postcode}^USA||"
            f"(217){n // 10000 % 1000:03d}-{n % 10000:04d}",
        ]
    )


def sender(port: int, texts: list[str], go: Event) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        go.wait()
        buffer = b""
        for text in texts:
            sock.sendall(frame(text))
            while END not in buffer:
                buffer += sock.recv(65536)
            ack, _, buffer = buffer.partition(END)
            assert b"MSA|AA|" in ack, ack


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processed(engine: Engine, run: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(Hl7Message)
            .where(
                Hl7Message.control_id.like(f"{run}-%"),
                Hl7Message.state == MessageState.PROCESSED,
            )
        ).scalar_one()


@dataclass(frozen=True)
class Rates:
    ack: float  # messages per second, first send to last ACK
    applied: float  # first send until every message of the run is processed
    listener_cpu_ms: float  # CPU per message: the listener's process
    applier_cpu_ms: float  # and its applier process (stored mode)


async def over_mllp(
    url: str, count: int, connections: int, first: int, ack_after: AckAfter
) -> Rates:
    """Send people ``first`` to ``first + count - 1`` (each run its own people: a run
    registering the same people again under new MRNs would measure merges)."""
    engine = make_engine(url, pool_size=connections + 3)
    listener = Listener(engine=engine, secret_key=SECRET, port=0, ack_after=ack_after)
    port = await listener.start()
    applier = listener._applier._process if listener._applier is not None else None
    applier_pid = applier.pid if applier is not None else None
    run = uuid.uuid4().hex[:6]
    texts = [message(run, n) for n in range(first, first + count)]
    # Forked: the senders need nothing but a socket, and start at once.
    context = multiprocessing.get_context("fork")
    go = context.Event()
    senders = [
        context.Process(target=sender, args=(port, texts[i::connections], go))
        for i in range(connections)
    ]
    for process in senders:
        process.start()
    await asyncio.sleep(0.5)  # connected, waiting for the word
    applier_cpu = _cpu_seconds(applier_pid) if applier_pid is not None else 0.0
    start, cpu = time.perf_counter(), time.process_time()
    go.set()
    while any(p.is_alive() for p in senders):  # noqa: ASYNC110
        await asyncio.sleep(0.002)
    acked = time.perf_counter() - start
    assert all(p.exitcode == 0 for p in senders), "a sender failed"
    # Polled from here as an operator would see it; 20 ms apart costs little.
    while await asyncio.to_thread(_processed, engine, run) < count:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    applied, cpu = time.perf_counter() - start, time.process_time() - cpu
    if applier_pid is not None:
        applier_cpu = _cpu_seconds(applier_pid) - applier_cpu
    await listener.stop()
    engine.dispose()
    return Rates(count / acked, count / applied, cpu / count * 1000, applier_cpu / count * 1000)


def bulk_floor(url: str, count: int) -> float:
    engine = make_engine(url)
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    patients, identifiers, addresses, phones, messages = [], [], [], [], []
    start = time.perf_counter()
    for n in range(count):
        pid = uuid.uuid4()
        mrn = f"{run}{n:07d}"
        system = f"hl7v2:FAC{run}"
        patients.append(
            {"id": pid, "source_system": system, "source_id": mrn, "given_name": "JANE",
             "family_name": f"DOE{n}", "sex": "female", "language": "en", "status": "active",
             "interpreter_needed": False, "version": 1, "recorded_at": now, "updated_at": now}
        )  # fmt: skip
        common = {"patient_id": pid, "source_system": system, "version": 1, "sensitivity": 0,
                  "recorded_at": now, "updated_at": now}  # fmt: skip
        identifiers.append({**common, "id": uuid.uuid4(), "source_id": f"{mrn}|PID-3|1",
                            "kind": "mrn", "system": f"FAC{run}", "value": mrn})  # fmt: skip
        addresses.append({**common, "id": uuid.uuid4(), "source_id": f"{mrn}|PID-11|1",
                          "use": "home", "line1": f"{n} MAIN ST", "city": "SPRINGFIELD",
                          "country": "US"})  # fmt: skip
        phones.append({**common, "id": uuid.uuid4(), "source_id": f"{mrn}|PID-13|1",
                       "system": "phone", "value": f"+1217555{n % 10000:04d}", "rank": 1,
                       "verified": False})  # fmt: skip
        messages.append(
            {"id": uuid.uuid4(), "source": f"BENCH|FAC{run}", "control_id": f"{run}-{n}",
             "digest": uuid.uuid4().hex, "message_type": "ADT^A04", "version": "2.5.1",
             "transport": "mllp", "state": MessageState.PROCESSED.value, "attempts": 1,
             "received_at": now, "raw": message(run, n), "ack_code": "AA", "ack": "MSA|AA"}
        )  # fmt: skip
    with transaction(engine) as session:
        for model, rows in ((Patient, patients), (PatientIdentifier, identifiers),
                            (Address, addresses), (ContactPoint, phones),
                            (Hl7Message, messages)):  # fmt: skip
            table = model.__table__
            assert isinstance(table, Table)  # a mapped class's table; typed as FromClause
            session.execute(insert(table), rows)
    seconds = time.perf_counter() - start
    engine.dispose()
    return count / seconds


class Copies:
    """A template database and fresh copies of it, one per run: SQLite files copied, or
    PostgreSQL databases created ``TEMPLATE`` it on the server given (all dropped at the
    end)."""

    def __init__(self, server: str | None, tmp: Path) -> None:
        self.server, self.tmp, self.made = server, tmp, list[str]()
        self.tag = uuid.uuid4().hex[:8]
        self.template = self._create("template") if server else f"sqlite:///{tmp}/template.db"

    def _admin(self) -> Engine:
        assert self.server is not None
        return make_engine(self.server, isolation_level="AUTOCOMMIT")

    def _create(self, name: str, template: str | None = None) -> str:
        assert self.server is not None
        database = f"p360_bench_hl7_{self.tag}_{name}"
        admin = self._admin()
        with admin.connect() as conn:
            like = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{database}"{like}'))
        admin.dispose()
        self.made.append(database)
        return make_url(self.server).set(database=database).render_as_string(hide_password=False)

    def fresh(self, name: str) -> str:
        if self.server is None:
            shutil.copy(self.tmp / "template.db", self.tmp / f"{name}.db")
            return f"sqlite:///{self.tmp}/{name}.db"
        return self._create(name, template=make_url(self.template).database)

    def __enter__(self) -> Copies:
        return self

    def __exit__(self, *_: object) -> None:
        if self.server is None:
            return
        admin = self._admin()
        with admin.connect() as conn:
            for database in reversed(self.made):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


PRELOAD_FROM = 5_000_000
"""Person numbers of the preloaded patients: never those of a timed run, nor sharing a
phone number with one (10,000,000 + n had person n's number)."""


def preload(url: str, count: int) -> None:
    """Register ``count`` people (the same generator, other numbers) the way a feed
    does, untimed: stored, then applied in batches and matched."""
    engine = make_engine(url)
    texts = [message("pre", PRELOAD_FROM + n) for n in range(count)]
    for start in range(0, count, 500):
        with write_transaction(engine) as session:
            for text in texts[start : start + 500]:
                store(session=session, text=text)
        apply_all(engine, secret_key=SECRET)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--database",
        help="a PostgreSQL server URL (user with CREATE DATABASE; default: SQLite files). "
        "Either way every run gets a fresh copy of one database made for the benchmark",
    )
    parser.add_argument(
        "--ack-after", nargs="+", choices=["applied", "stored"], default=["applied", "stored"]
    )
    parser.add_argument(
        "--preload",
        type=int,
        default=0,
        help="patients registered before the runs (through the feed, untimed): the "
        "matcher's work grows with the patients it compares each new one with",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Copies(args.database, Path(tmp)) as copies:
        template = copies.template
        upgrade_to_head(template)
        preload(template, args.preload)
        fresh = copies.fresh
        floor = bulk_floor(fresh("floor"), args.messages)
        print(f"database: {template.split('://')[0]}   messages: {args.messages}   "
              f"patients before each run: {args.preload:,}")  # fmt: skip
        print(f"raw bulk insert of the same rows (floor): {floor:,.0f} messages/s")
        runs = [(mode, c) for mode in args.ack_after for c in args.connections]
        for n, (mode, connections) in enumerate(runs):
            url = fresh(f"run{n}")
            first = n * args.messages
            rates = asyncio.run(over_mllp(url, args.messages, connections, first, mode))
            print(
                f"MLLP, ack after {mode}, {connections} connection(s): "
                f"ACK {rates.ack:,.0f} messages/s, applied {rates.applied:,.0f} messages/s "
                f"(floor/applied = {floor / rates.applied:.1f}x); CPU per message: "
                f"listener {rates.listener_cpu_ms:.2f} ms, applier {rates.applier_cpu_ms:.2f} ms"
            )
        print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
