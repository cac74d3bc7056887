"""``mpi scan`` on both databases: summary counts, dry run, reruns, and the command."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.identity.models import IdentityLink
from backend.mpi.model import default_model
from backend.mpi.scan import scan
from backend.patients.models import Patient, PatientStatus
from tests.mpi_db.factory import NOW, Shared, links, patient, policy, surname
from tests.test_cli import run


def _world(session: Session) -> dict[str, uuid.UUID]:
    twins: Shared = {
        "family": surname(),
        "birth": date(2001, 5, 9),
        "phone": "+12175550111",
        "line1": "3 Elm",
    }
    same: Shared = {"family": surname(), "phone": "+13125550199", "email": "dup@example.org"}
    ids = {
        "ada": patient(session, given="Ada", **twins),
        "ife": patient(session, given="Ife", **twins),
        "william": patient(session, given="William", recorded_at=NOW - timedelta(days=9), **same),
        "bill": patient(session, given="William", **same),
        "loner": patient(session, given="Zed", family=surname(), birth=date(1950, 1, 1)),
    }
    session.commit()
    return ids


def _links(session: Session) -> int:
    return int(session.execute(select(func.count(IdentityLink.id))).scalar() or 0)


def test_scan_summarises_and_a_second_run_changes_nothing(session: Session) -> None:
    ids = _world(session)
    before = _links(session)
    dry = scan(session, model=default_model(), now=NOW, dry_run=True, policy=policy())
    assert dry.dry_run
    assert dry.summary.auto_links >= 1
    assert dry.summary.review >= 1
    assert dry.summary.merges == 0
    assert _links(session) == before  # rolled back

    first = scan(session, model=default_model(), now=NOW, policy=policy())
    assert first.patients >= 5
    assert first.summary.pairs_compared >= 2
    assert first.summary.merges >= 1
    session.expire_all()
    merged = session.get(Patient, ids["bill"])
    assert merged is not None
    assert merged.status is PatientStatus.MERGED
    (twin_link,) = links(session, ids["ada"], ids["ife"])
    assert str(twin_link.status) == "open"
    count = _links(session)

    second = scan(session, model=default_model(), now=NOW + timedelta(hours=1), policy=policy())
    assert (second.summary.auto_links, second.summary.merges) == (0, 0)
    assert second.summary.review >= 1  # the twins, scored again, link unchanged
    assert _links(session) == count
    session.expire_all()
    (again,) = links(session, ids["ada"], ids["ife"])
    assert (again.id, again.version) == (twin_link.id, twin_link.version)


def test_records_kept_from_the_key_pass_score_as_records_loaded_again(session: Session) -> None:
    _world(session)
    counts = []
    for cache in (0, 2, 10_000):  # none kept, some kept and the rest loaded, all kept
        result = scan(session, model=default_model(), now=NOW, dry_run=True, record_cache=cache)
        s = result.summary
        counts.append((result.pairs, s.pairs_compared, s.auto_links, s.review))
    assert counts[0][1] >= 2
    assert counts[0] == counts[1] == counts[2]


def test_the_scan_command_prints_its_summary(tmp_path: Path) -> None:
    env = {"P360_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    assert run("db", "upgrade", env=env).returncode == 0
    done = run("mpi", "scan", "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "dry run: patients 0, pairs compared 0, auto links 0" in done.stdout
    assert "skipped not-duplicate 0" in done.stdout
