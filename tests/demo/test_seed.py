"""Demo data: complete, realistic in shape, deterministic, and all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import Column, Engine, Table, func, select, text

from backend.accounts.models import PortalAccount, StaffRole, StaffUser
from backend.accounts.passwords import verify_password
from backend.db import make_engine
from backend.demo.context import demo_now
from backend.demo.seed import DemoRefusedError, DemoReport, seed_demo
from backend.migrations import upgrade_to_head
from backend.models import metadata
from backend.patients.models import Patient
from backend.scheduling.models import Appointment

TODAY = date(2026, 11, 1)
NOW = demo_now(TODAY)
# Tables the demo leaves empty on purpose, and why.
EMPTY_BY_DESIGN = {
    "portal_invite": "created by staff on demand",
    "merge_record": "no merges until someone reviews the near-duplicates",
    "merge_routed_record": "written only for records addressed to a merged patient",
    "raw_resource": "only imports keep resources that have no home in the model",
    "login_attempt": "written by sign-ins",
    "staff_session": "written by sign-ins",
    "oauth_client": "created with `patient360 client create`",
    "access_token": "issued by /oauth/token and `patient360 token`",
    "audit_event": "written by requests, not by the demo",
    "audit_chain_head": "created by the first audit event",
    "break_glass_grant": "emergencies only",
    "hl7_message": "written by HL7 v2 feeds (MLLP listener, `patient360 import hl7`)",
    "portal_session": "written by portal sign-ins",
    "password_reset_token": "written by portal password-reset requests",
    "patient_match_key": "the matcher's index: `patient360 mpi scan` (make run) fills it",
    "patient_match_state": "the matcher's index: `patient360 mpi scan` (make run) fills it",
}
# Records a typical treated patient has only sometimes (real charts are like that); the
# fullest demo patient may lack these and no others.
OCCASIONAL = {
    "imaging_study",
    "procedure",
    "immunization",
    "referral",
    "patient_case",
    "review",
    "alumni_event_attendance",
    "alumni_check_in",
    "allergy",
    "prior_authorization",
    "portal_account",
}


@dataclass(frozen=True)
class Seeded:
    engine: Engine
    report: DemoReport


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]
) -> Iterator[Seeded]:
    url = fresh_database_url(request.param)
    upgrade_to_head(url)
    engine = make_engine(url)
    report = seed_demo(engine, patients_count=120, seed=11, today=TODAY, secret_key="k" * 40)
    yield Seeded(engine, report)
    engine.dispose()


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in metadata.sorted_tables
        }


def test_every_table_has_rows(seeded: Seeded) -> None:
    empty = {name for name, n in counts(seeded.engine).items() if n == 0}
    assert empty <= set(EMPTY_BY_DESIGN), (
        f"demo left these empty: {sorted(empty - set(EMPTY_BY_DESIGN))}"
    )


def test_report_matches_the_database(seeded: Seeded) -> None:
    report = seeded.report
    assert report.rows == sum(counts(seeded.engine).values())
    assert report.duplicate_pairs >= 4
    assert sum(report.per_table.values()) == report.rows


def test_every_patient_category_is_filled_for_an_alumni_patient(seeded: Seeded) -> None:
    """One patient whose journey went all the way shows every category of the record."""
    patient_tables = [
        t for t in metadata.sorted_tables if "patient_id" in t.c and t.name not in EMPTY_BY_DESIGN
    ]
    with seeded.engine.connect() as connection:
        filled: dict[object, set[str]] = {}
        for table in patient_tables:
            for (patient_id,) in connection.execute(select(table.c.patient_id).distinct()):
                filled.setdefault(patient_id, set()).add(table.name)
    fullest = max(filled.values(), key=len)
    missing = {t.name for t in patient_tables} - fullest
    assert missing <= OCCASIONAL, f"the fullest patient lacks {sorted(missing - OCCASIONAL)}"
    covered = set().union(*filled.values())
    assert covered == {t.name for t in patient_tables}


def test_demo_logins_exist_for_every_role_and_work(seeded: Seeded) -> None:
    report = seeded.report
    usernames = {login.username for login in report.logins}
    expected = {role.value for role in StaffRole if role is not StaffRole.INTEGRATION}
    assert usernames == expected
    with seeded.engine.connect() as connection:
        for login in report.logins:
            stored = connection.scalar(
                select(StaffUser.password_hash).where(StaffUser.username == login.username)
            )
            assert verify_password(stored, login.password)
            assert not verify_password(stored, login.password + "x")


def test_demo_portal_logins_sign_in_to_patients_with_something_to_see(seeded: Seeded) -> None:
    logins = seeded.report.portal_logins
    assert [login.who.split(": ")[1] for login in logins] == [
        "upcoming appointment and a care plan",
        "alumni member",
    ]
    with seeded.engine.connect() as connection:
        rows = connection.execute(
            select(PortalAccount.login_email, PortalAccount.password_hash, PortalAccount.patient_id)
        ).all()
        assert len({row.patient_id for row in rows}) == len(rows) == len(logins)
        stored = {row.login_email: row.password_hash for row in rows}
        for login in logins:
            assert verify_password(stored[login.email], login.password)
        upcoming = connection.scalar(
            select(func.count())
            .select_from(Appointment)
            .join(PortalAccount, PortalAccount.patient_id == Appointment.patient_id)
            .where(PortalAccount.login_email == logins[0].email, Appointment.start_at > NOW)
        )
        assert upcoming


def test_no_record_is_dated_after_the_demo_today(seeded: Seeded) -> None:
    with seeded.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if "recorded_at" in table.c:
                latest = connection.scalar(select(func.max(table.c.recorded_at)))
                if latest is not None:
                    assert latest.date() <= TODAY, table.name


def test_same_seed_same_data_and_refusal(fresh_database_url: Callable[[str], str]) -> None:
    snapshots = []
    for backend in ("sqlite", "postgresql"):
        url = fresh_database_url(backend)
        upgrade_to_head(url)
        engine = make_engine(url)
        seed_demo(engine, patients_count=15, seed=5, today=TODAY, secret_key="k" * 40)
        with engine.connect() as connection:
            people = connection.execute(
                select(
                    Patient.id, Patient.given_name, Patient.family_name, Patient.birth_date
                ).order_by(Patient.id)
            ).all()
        snapshots.append((counts(engine), [tuple(map(str, row)) for row in people]))
        with pytest.raises(DemoRefusedError):
            seed_demo(engine, patients_count=1, seed=5, today=TODAY, secret_key="k" * 40)
        seed_demo(engine, patients_count=3, seed=6, today=TODAY, secret_key="k" * 40, reset=True)
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM patient")) == 3
        engine.dispose()
    assert snapshots[0] == snapshots[1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_worker_process_writes_exactly_what_in_process_writes(
    backend: str, fresh_database_url: Callable[[str], str]
) -> None:
    """Large runs generate chunks in a worker process; the database must not tell."""
    dumps = []
    for worker in (False, True):
        url = fresh_database_url(backend)
        upgrade_to_head(url)
        engine = make_engine(url)
        seed_demo(
            engine,
            patients_count=90,
            seed=3,
            today=TODAY,
            secret_key="k" * 40,
            chunk=30,
            worker=worker,
        )
        with engine.connect() as connection:
            dump = {
                table.name: sorted(
                    map(repr, connection.execute(select(*_stable_columns(table))).all())
                )
                for table in metadata.sorted_tables
            }
        engine.dispose()
        dumps.append(dump)
    assert dumps[0] == dumps[1]


def _stable_columns(table: Table) -> list[Column[object]]:
    # Staff password hashes are salted afresh on every run; everything else is seeded.
    return [c for c in table.c if c.name != "password_hash"]
