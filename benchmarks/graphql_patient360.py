"""The patient 360 query at scale: ``python benchmarks/graphql_patient360.py``.

Builds a fresh, migrated database per backend. The default world (``--world record``)
is ``patient360 demo`` data for ``--demo-patients`` patients, all of whose records are
then moved onto one patient, so every category of the record is populated; a physician
on every care team reads it. ``--world two-tables`` is the earlier world: one care team,
its physician, and patients with 5, 500 and ``--records`` conditions and appointments.
It runs ``graphql/operations/Patient360.graphql`` in-process through the production
schema as the physician, ``--runs`` times per variant, and prints median and p95:

* ``on``: the access layer as it ships (field masks, row scope, Part 2 and
  psychotherapy filters, read log and audit event).
* ``off-fields``: a compiled policy that grants the physician every field group, so
  nothing is masked and no ``withheld`` entry is built; everything else as ``on``.
* ``off-all``: ``off-fields`` plus the row-scope and sensitivity clauses and the
  record-rule lookups (treating therapist, Part 2 consent, treating team) replaced by
  no-ops (patched here, in the benchmark only). The audit event is still written: it is
  the audit trail, not an access check.
* ``floor``: the same rows fetched with one SQL query per table (the patient, contact
  points, addresses and every category; SQLAlchemy Core, the same columns, the same sync
  driver) and serialized with orjson.

Each GraphQL run is one request: a fresh context (loaders, read log) and the result
serialized with ``json.dumps``. It then prints the number of SQL statements the query
sends for a small and for the large record (the same number: no N+1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, event, select, text, true, update
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request

import backend.access.listing as listing
import backend.patients.service as patients_service
from backend.access.listing import view_fields
from backend.access.policy import READ, CompiledPolicy, policy_store
from backend.access.principal import Principal, PrincipalKind
from backend.access.scoping import care_team_patient_ids
from backend.access.sensitivity import PatientAccess
from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.api.context import ApiContext
from backend.api.schema import Schema, build_schema
from backend.clinical.models import Condition
from backend.common.mixins import utcnow
from backend.common.types import Code
from backend.db import async_session_factory, make_async_engine, make_engine, transaction
from backend.demo.seed import seed_demo
from backend.migrations import upgrade_to_head
from backend.models import metadata
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import (
    Address,
    ContactPoint,
    ContactSystem,
    Patient,
)
from backend.patients.records import AddressView, ContactPointView, PatientView
from backend.record.categories import CATEGORIES
from backend.scheduling.models import Appointment, ServiceType
from backend.settings import Settings

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
OPERATION_FILE = Path(__file__).resolve().parents[1] / "graphql/operations/Patient360.graphql"
ROLE = str(StaffRole.PHYSICIAN)


# --- databases ------------------------------------------------------------------------


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


def _condition(patient_id: uuid.UUID, n: int) -> Condition:
    return Condition(
        patient_id=patient_id,
        code=Code("http://hl7.org/fhir/sid/icd-10-cm", f"F3{n % 10}.{n % 7}", f"Diagnosis {n}"),
        onset_date=date(2020, 1, 1) + timedelta(days=n % 1500),
        effective_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=n),
        note=f"Reviewed at visit {n}; plan unchanged.",
    )


def _appointment(patient_id: uuid.UUID, n: int) -> Appointment:
    start = datetime(2025, 7, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    return Appointment(
        patient_id=patient_id,
        service_type=ServiceType.PSYCHIATRY,
        start_at=start,
        end_at=start + timedelta(minutes=50),
        reason_text="Follow-up on mood",
        reason=Code("http://hl7.org/fhir/sid/icd-10-cm", "F32.1", "Major depressive disorder"),
    )


def build_world(engine: Engine, sizes: dict[str, int]) -> tuple[Principal, dict[str, uuid.UUID]]:
    """One team, its physician, and a patient per size (children split between
    conditions and appointments); returns the physician's principal and patient ids."""
    patients: dict[str, uuid.UUID] = {}
    with transaction(engine) as s:
        org = Organization(id=uuid.uuid4(), name="Bench clinic", kind=OrganizationKind.PROVIDER)
        s.add(org)
        s.flush()
        loc = Location(id=uuid.uuid4(), organization_id=org.id, name="Main")
        s.add(loc)
        s.flush()
        team = CareTeam(id=uuid.uuid4(), name="Team A", location_id=loc.id)
        user = StaffUser(id=uuid.uuid4(), username="bench-physician", display_name="Dr Bench")
        s.add_all([team, user])
        s.flush()
        s.add(StaffRoleAssignment(staff_user_id=user.id, role=StaffRole.PHYSICIAN))
        s.add(
            CareTeamMember(care_team_id=team.id, staff_user_id=user.id, role=CareTeamRole.PHYSICIAN)
        )
        for key, children in sizes.items():
            patient = Patient(
                id=uuid.uuid4(),
                given_name="Bench",
                family_name=f"Patient{key}",
                birth_date=date(1980, 5, 17),
                home_location_id=loc.id,
            )
            s.add(patient)
            s.flush()
            s.add(CareTeamPatient(care_team_id=team.id, patient_id=patient.id))
            s.add(
                ContactPoint(patient_id=patient.id, system=ContactSystem.PHONE, value="+15550100")
            )
            s.add(Address(patient_id=patient.id, line1="1 Main St", city="Springfield"))
            conditions = (children + 1) // 2
            s.add_all([_condition(patient.id, n) for n in range(conditions)])
            s.add_all([_appointment(patient.id, n) for n in range(children - conditions)])
            patients[key] = patient.id
    principal = Principal(
        kind=PrincipalKind.STAFF,
        subject_id=user.id,
        username=user.username,
        roles=frozenset({ROLE}),
        care_team_ids=frozenset({team.id}),
    )
    return principal, patients


def build_record_world(
    engine: Engine, demo_patients: int
) -> tuple[Principal, dict[str, uuid.UUID]]:
    """Every category of the record: the demo clinic (``patient360 demo``) with
    ``demo_patients`` patients, whose records are then all moved onto the first one
    (~55 child records per demo patient, spread over every category). The last demo
    patient keeps only its own records, for the statement count. The physician is on
    every care team (row scope is still evaluated, it just lets them in)."""
    seed_demo(
        engine,
        patients_count=demo_patients,
        seed=360,
        today=date(2026, 11, 21),
        secret_key="b" * 40,
        worker=False,
    )
    patient_table = metadata.tables[Patient.__tablename__]
    with engine.connect() as conn:
        teams = frozenset(conn.scalars(select(CareTeam.__table__.c.id)))
        # Patients a physician on every team sees today (not discharged, not merged away).
        ids = list(
            conn.scalars(
                select(patient_table.c.id)
                .where(
                    patient_table.c.deleted_at.is_(None),
                    patient_table.c.id.in_(care_team_patient_ids(teams, utcnow().date())),
                )
                .order_by(patient_table.c.id)
            )
        )
        everyone = list(conn.scalars(select(patient_table.c.id)))
    big, small = ids[0], ids[-1]
    moved = [i for i in everyone if i not in (big, small)]
    for table in metadata.tables.values():
        if "patient_id" not in table.c or table is patient_table:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(table).where(table.c.patient_id.in_(moved)).values(patient_id=big)
                )
        except IntegrityError:
            # One row per patient by design (care-team link, contact settings and
            # preferences): the big patient keeps its own.
            continue
    with transaction(engine) as s:
        user = StaffUser(id=uuid.uuid4(), username="bench-physician", display_name="Dr Bench")
        s.add(user)
        s.flush()
        s.add(StaffRoleAssignment(staff_user_id=user.id, role=StaffRole.PHYSICIAN))
        s.add_all(
            CareTeamMember(care_team_id=t, staff_user_id=user.id, role=CareTeamRole.PHYSICIAN)
            for t in teams
        )
    principal = Principal(
        kind=PrincipalKind.STAFF,
        subject_id=user.id,
        username=user.username,
        roles=frozenset({ROLE}),
        care_team_ids=teams,
    )
    return principal, {"small": small, "big": big}


# --- access variants ------------------------------------------------------------------


def open_policy(base: CompiledPolicy) -> CompiledPolicy:
    """``base`` with every field group granted to the physician for reading."""
    groups = frozenset(g for fields in base.field_groups.values() for g in fields.values())
    return CompiledPolicy(
        version=base.version,
        field_groups=base.field_groups,
        role_groups={**base.role_groups, (ROLE, READ): groups},
        capabilities=base.capabilities,
    )


@contextmanager
def rows_unchecked() -> Iterator[None]:
    """Row scope, the record-rule filters and their lookups as no-ops.

    Each stand-in replaces the name in the module that calls it (listing and the patients
    service import these functions), so patching the defining module would change nothing.
    """
    stand_ins: tuple[tuple[object, str, object], ...] = (
        (listing, "patient_scope", lambda *a, **k: true()),
        (listing, "patients_in_scope", lambda **k: frozenset(k["patient_ids"])),
        (listing, "sensitivity_filter", lambda *a, **k: true()),
        (
            listing,
            "load_patient_access",
            lambda **k: dict.fromkeys(k["patient_ids"], PatientAccess()),
        ),
        (patients_service, "visible_patients", lambda **k: true()),
    )
    with ExitStack() as stack:
        for module, name, stand_in in stand_ins:
            stack.enter_context(patch.object(module, name, stand_in))
        yield


# --- measurements ---------------------------------------------------------------------


class Runner:
    def __init__(self, url: str, settings: Settings, principal: Principal, operation: str) -> None:
        self.operation = operation
        self.schema: Schema = build_schema(production=True)
        self.app = Starlette()
        self.app.state.settings = settings
        self.engine = make_async_engine(url)
        self.app.state.sessions = async_session_factory(self.engine)
        self.principal = principal

    async def once(self, patient_id: uuid.UUID, policy: CompiledPolicy) -> dict[str, Any]:
        scope = {"type": "http", "app": self.app, "method": "POST", "path": "/graphql"}
        context = ApiContext(
            request=Request(scope),
            principal=self.principal,
            policy=policy,
            now=utcnow(),
            request_id=uuid.uuid4().hex,
        )
        result = await self.schema.execute(
            self.operation,
            variable_values={"id": str(patient_id)},
            context_value=context,
            operation_name="Patient360",
        )
        if result.errors:
            raise RuntimeError(f"query failed: {[e.message for e in result.errors]}")
        body = {"data": result.data}
        json.dumps(body)
        return body

    async def timings(
        self, patient_id: uuid.UUID, variants: dict[str, tuple[CompiledPolicy, bool]], runs: int
    ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """Wall-clock and CPU seconds per run of each variant (policy, rows unchecked),
        interleaved run by run so that drift on a shared machine hits every variant
        alike. CPU is this process's (every thread: aiosqlite runs SQLite in one), so
        it is steadier than wall time under load but leaves out PostgreSQL's server."""
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for run in range(-3, runs):  # three warm-up rounds: caches, pools, plans
            for name, (policy, unchecked) in variants.items():
                with rows_unchecked() if unchecked else nullcontext():
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await self.once(patient_id, policy)
                    elapsed = time.perf_counter() - started
                    cpu_used = time.process_time() - cpu_started
                if run >= 0:
                    seconds[name].append(elapsed)
                    cpu[name].append(cpu_used)
        return seconds, cpu


def floor_once(engine: Engine, patient_id: uuid.UUID) -> bytes:
    """The orjson floor: one Core query per table (the patient, contact points, addresses
    and every category of the record), rows to dicts, one orjson dump."""

    def query(model: Any, view: type[Any]) -> tuple[list[str], Any]:
        # Keys are the views' plain field names: orjson refuses str subclasses (the
        # column names SQLAlchemy hands back) as dict keys.
        names = [n for n in view_fields(view) if n in model.__table__.c]
        return names, select(*(model.__table__.c[n] for n in names))

    tables: list[tuple[str, Any, type[Any], tuple[Any, ...]]] = [
        ("contactPoints", ContactPoint, ContactPointView, ()),
        ("addresses", Address, AddressView, ()),
    ]
    tables += [(c.kind.value, c.model, c.view, c.where) for c in CATEGORIES.values()]
    with engine.connect() as conn:
        names, stmt = query(Patient, PatientView)
        row = conn.execute(stmt.where(Patient.id == patient_id)).one()
        patient: dict[str, Any] = dict(zip(names, row, strict=True))
        for key, model, view, where in tables:
            names, stmt = query(model, view)
            rows = conn.execute(
                stmt.where(model.patient_id == patient_id, model.deleted_at.is_(None), *where)
            )
            patient[key] = [dict(zip(names, r, strict=True)) for r in rows]
    # default=str: money columns are Decimal, which the API also answers as a string.
    return orjson.dumps({"data": {"patient": patient}}, default=str)


def floor_timings(engine: Engine, patient_id: uuid.UUID, runs: int) -> list[float]:
    for _ in range(3):
        floor_once(engine, patient_id)
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        floor_once(engine, patient_id)
        seconds.append(time.perf_counter() - started)
    return seconds


@contextmanager
def counting() -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def stats(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _children(patient: dict[str, Any]) -> tuple[int, int, int]:
    """(child records, categories with any, withheld fields) of a Patient360 answer."""
    lists = [v for v in patient.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
    records = [r for rows in lists for r in rows]
    withheld = sum(len(r.get("withheld") or ()) for r in records)
    return len(records), len(lists), withheld


async def measure(backend: str, url: str, world: str, size: int, runs: int, operation: str) -> None:
    settings = Settings(env="production", database_url=url, secret_key=SecretStr("b" * 40))
    sync_engine = make_engine(url)
    if world == "record":
        principal, patients = build_record_world(sync_engine, size)
        small, large = "small", "big"
    else:
        principal, patients = build_world(
            sync_engine, {"five": 5, "five_hundred": 500, "big": size}
        )
        small, large = "five", "five_hundred"
    policy = policy_store(settings.policies_dir).current()
    runner = Runner(url, settings, principal, operation)
    try:
        body = await runner.once(patients["big"], policy)
        children, categories, withheld = _children(body["data"]["patient"])
        print(
            f"{backend}: {children:,} child records in {categories} categories returned, "
            f"{withheld} fields withheld"
        )

        opened = open_policy(policy)
        timed, cpu = await runner.timings(
            patients["big"],
            {"on": (policy, False), "off-fields": (opened, False), "off-all": (opened, True)},
            runs,
        )
        results = {name: stats(seconds) for name, seconds in timed.items()}
        results["floor"] = stats(floor_timings(sync_engine, patients["big"], runs))
        for name, (median, p95) in results.items():
            print(f"{backend:<10} {name:<11} median {median:8.2f} ms   p95 {p95:8.2f} ms")
        on, fields_off, all_off, floor = (
            results[k][0] for k in ("on", "off-fields", "off-all", "floor")
        )
        print(
            f"{backend:<10} access overhead (median): {100 * (on / fields_off - 1):+.1f} % vs "
            f"off-fields, {100 * (on / all_off - 1):+.1f} % vs off-all (target <= 20 %)"
        )
        cpu_on, cpu_off = (statistics.median(cpu[k]) * 1000 for k in ("on", "off-all"))
        print(
            f"{backend:<10} access overhead (median CPU of this process): "
            f"{100 * (cpu_on / cpu_off - 1):+.1f} % vs off-all ({cpu_on:.1f} vs {cpu_off:.1f} ms)"
        )
        print(
            f"{backend:<10} whole query vs orjson floor (median): x{on / floor:.1f} "
            f"(off-all x{all_off / floor:.1f}; target <= 25x)"
        )

        counts = {}
        for key in (small, large):
            body = await runner.once(patients[key], policy)
            with counting() as seen:
                await runner.once(patients[key], policy)
            counts[key] = (len(seen), _children(body["data"]["patient"])[0])
        print(
            f"{backend:<10} SQL statements: "
            + ", ".join(f"{n} for {records:,} child records" for n, records in counts.values())
        )
    finally:
        await runner.engine.dispose()
        sync_engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--world",
        choices=("record", "two-tables"),
        default="record",
        help="record: demo data in every category of the record, all moved onto one "
        "patient; two-tables: --records conditions and appointments only (the original "
        "benchmark)",
    )
    parser.add_argument(
        "--demo-patients", type=int, default=20, help="record world: demo patients merged"
    )
    parser.add_argument("--records", type=int, default=1000, help="two-tables world: child records")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--operation",
        type=Path,
        default=OPERATION_FILE,
        help="the Patient360 operation to run (e.g. an older version, to compare)",
    )
    args = parser.parse_args()
    operation = args.operation.read_text()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url, name = fresh(backend, Path(tmp))
            try:
                upgrade_to_head(url)
                size = args.demo_patients if args.world == "record" else args.records
                asyncio.run(measure(backend, url, args.world, size, args.runs, operation))
            finally:
                drop(name)


if __name__ == "__main__":
    main()
