"""Two staff merging the same patient at once, each in a real session and transaction of
their own: one wins, the other gets a conflict, and nothing is half-merged."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, load_policy
from backend.clinical.models import Condition
from backend.db import make_engine
from backend.identity.merge import MergeConflict, merge_patients
from backend.identity.models import MergeRecord
from backend.migrations import upgrade_to_head
from backend.models import metadata
from backend.patients.models import Patient, PatientStatus
from backend.settings import Settings
from tests.conftest import BACKENDS
from tests.identity.factory import NOW, Clinic, chart, clinic, patient


@pytest.fixture(scope="module", params=BACKENDS)
def own_engine(
    request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]
) -> Iterator[Engine]:
    """A database of this module's own: its rows are committed (two connections must see
    them) and must not show up in tests that count rows in the shared one."""
    url = fresh_database_url(request.param)
    if os.environ.get("P360_TEST_SCHEMA") == "metadata" and not os.environ.get("CI"):
        engine = make_engine(url)
        metadata.create_all(engine)
    else:
        upgrade_to_head(url)
        engine = make_engine(url)
    yield engine
    engine.dispose()


def _setup(engine: Engine) -> tuple[Clinic, uuid.UUID, uuid.UUID, uuid.UUID]:
    with Session(engine, expire_on_commit=False) as s, s.begin():
        world = clinic(s)
        a, b, c = (patient(s, world, n) for n in ("Katherine", "Kate", "Katie"))
        chart(s, b, 1)
    return world, a, b, c


def test_concurrent_merges_of_one_patient_one_wins(own_engine: Engine) -> None:
    policy: CompiledPolicy = load_policy(Settings().policies_dir)[1]
    world, a, b, c = _setup(own_engine)
    who = world.principal("care_coordinator")
    outcome: dict[str, str] = {}

    first = Session(own_engine, expire_on_commit=False)
    first.begin()
    # Staff 1 merges b into a and has not committed yet ...
    merge_patients(
        session=first,
        principal=who,
        policy=policy,
        survivor_id=a,
        merged_id=b,
        reason="same person",
        now=NOW,
    )

    def second() -> None:
        # ... while staff 2 merges b into c: it must wait for staff 1's row locks.
        with Session(own_engine) as s, s.begin():
            try:
                merge_patients(
                    session=s,
                    principal=who,
                    policy=policy,
                    survivor_id=c,
                    merged_id=b,
                    reason="same person",
                    now=NOW,
                )
                outcome["second"] = "merged"
            except MergeConflict:
                outcome["second"] = "conflict"

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the second merge did not wait for the first one's locks"
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert outcome == {"second": "conflict"}

    with Session(own_engine) as s:
        records = s.execute(select(MergeRecord).where(MergeRecord.merged_id == b)).scalars().all()
        assert [(r.survivor_id, r.merged_id) for r in records] == [(a, b)]
        owners = (
            s.execute(
                select(Condition.patient_id, func.count())
                .where(Condition.patient_id.in_([a, b, c]))
                .group_by(Condition.patient_id)
            )
            .tuples()
            .all()
        )
        assert owners == [(a, 1)]
        statuses = dict(
            s.execute(select(Patient.id, Patient.status).where(Patient.id.in_([a, b, c])))
            .tuples()
            .all()
        )
        assert statuses == {
            a: PatientStatus.ACTIVE,
            b: PatientStatus.MERGED,
            c: PatientStatus.ACTIVE,
        }
