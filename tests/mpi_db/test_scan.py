"""``mpi scan`` on both databases: summary counts, dry run, reruns, and the command."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.mpi import scan as scan_module
from backend.mpi.keys import PatientMatchKey
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


def test_small_batches_scan_as_one_and_merged_patients_lose_their_keys(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key pass reads each batch's children and stored keys by id range: a range
    holding merged or deleted patients, and batches of any size, change nothing."""
    ids = _world(session)
    gone = patient(session, given="Gone", family=surname(), birth=date(1960, 2, 3))
    session.get_one(Patient, gone).deleted_at = NOW
    session.commit()
    counts = []
    for size in (1, 2, 3, 10_000):
        monkeypatch.setattr(scan_module, "PATIENT_BATCH", size)
        result = scan(session, model=default_model(), now=NOW, dry_run=True)
        s = result.summary
        counts.append((result.patients, result.pairs, s.pairs_compared, s.auto_links, s.review))
    assert len(set(counts)) == 1, counts

    monkeypatch.setattr(scan_module, "PATIENT_BATCH", 2)
    first = scan(session, model=default_model(), now=NOW, policy=policy())
    assert first.summary.merges >= 1
    keyed = set(session.execute(select(PatientMatchKey.patient_id)).scalars())
    assert ids["bill"] not in keyed  # merged
    assert gone not in keyed
    live = session.execute(
        select(Patient.id).where(
            Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED
        )
    ).scalars()
    assert keyed == set(live)
    keys_before = set(session.execute(select(PatientMatchKey.__table__)).all())
    count = _links(session)
    second = scan(session, model=default_model(), now=NOW + timedelta(hours=1), policy=policy())
    assert (second.summary.auto_links, second.summary.merges) == (0, 0)
    assert _links(session) == count
    assert set(session.execute(select(PatientMatchKey.__table__)).all()) == keys_before


def _link(session: Session, a: uuid.UUID, b: uuid.UUID, kind: LinkKind) -> IdentityLink:
    first, second = sorted((a, b))
    link = IdentityLink(
        id=uuid.uuid4(),
        patient_a_id=first,
        patient_b_id=second,
        kind=kind,
        status=LinkStatus.OPEN if kind is LinkKind.POSSIBLE_DUPLICATE else LinkStatus.CONFIRMED,
        method=LinkMethod.AUTOMATIC if kind is LinkKind.POSSIBLE_DUPLICATE else LinkMethod.MANUAL,
        score=0.999,
        decided_at=None if kind is LinkKind.POSSIBLE_DUPLICATE else NOW + timedelta(days=1),
    )
    session.add(link)
    session.commit()
    return link


def test_pairs_scored_separate_still_withdraw_old_suggestions_and_decisions_hold(
    session: Session,
) -> None:
    """Pairs that score "separate" skip the link writes, but not the pairs with a link:
    an old automatic suggestion between strangers is withdrawn, a "not a duplicate"
    decision keeps the twins out of the review queue."""
    # Twins of their own (the world's phone and birth date are shared by every test's
    # twins, and on SQLite earlier tests' rows stay).
    twins: Shared = {
        "family": surname(),
        "birth": date(1999, 3, 17),
        "phone": f"+1217555{uuid.uuid4().int % 10_000:04d}",
        "line1": "9 Ash",
    }
    ids = {
        "ada": patient(session, given="Ada", **twins),
        "ife": patient(session, given="Ife", **twins),
    }
    born = date(1990, 7, 1)  # the same birth date: a candidate pair, else strangers
    x = patient(session, given="Xavier", family=surname(), birth=born)
    y = patient(session, given="Yolanda", family=surname(), birth=born)
    scan(session, model=default_model(), now=NOW, policy=policy())  # keys built at NOW
    (review,) = links(session, ids["ada"], ids["ife"])
    review.status = LinkStatus.REJECTED  # as a "not a duplicate" decision closes it
    stale = _link(session, x, y, LinkKind.POSSIBLE_DUPLICATE)
    _link(session, ids["ada"], ids["ife"], LinkKind.NOT_DUPLICATE)

    result = scan(session, model=default_model(), now=NOW + timedelta(days=2), policy=policy())
    s = result.summary
    assert s.withdrawn >= 1
    assert s.skipped_not_duplicate >= 1
    # Every candidate pair is counted once: compared, or skipped on a decision.
    assert s.pairs_compared + s.skipped_not_duplicate == result.pairs
    session.expire_all()
    assert session.get_one(IdentityLink, stale.id).status is LinkStatus.REJECTED
    assert [lk.status for lk in links(session, ids["ada"], ids["ife"])] == [LinkStatus.REJECTED]
