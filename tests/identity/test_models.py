"""Identity links and merge records against real databases."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.accounts.models import StaffUser
from backend.demo import identity
from backend.demo.context import DemoContext
from backend.demo.sink import RowSink
from backend.identity.models import (
    IdentityLink,
    LinkKind,
    LinkMethod,
    LinkStatus,
    MergeRecord,
)
from backend.patients.models import AdministrativeSex, Patient

NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)


def add_people(session: Session, count: int = 3) -> tuple[list[uuid.UUID], uuid.UUID]:
    """``count`` patients and one staff user, written through the demo sink."""
    sink = RowSink(random.Random(5), recorded_at=NOW)
    staff_id = sink.add(StaffUser, username="mpi.reviewer", display_name="MPI Reviewer")
    patients = [
        sink.add(
            Patient,
            given_name=given,
            family_name="Whitfield",
            birth_date=date(1987, 4, 9),
            sex=AdministrativeSex.FEMALE,
        )
        for given in ("Katherine", "Kate", "Katie")[:count]
    ]
    sink.flush(session.connection())
    return patients, staff_id


EVIDENCE = {
    "given_name": {"agreement": "fuzzy", "weight": 1.9},
    "family_name": {"agreement": "exact", "weight": 4.6},
    "birth_date": {"agreement": "exact", "weight": 5.1},
}


def test_link_and_merge_round_trip(session: Session) -> None:
    (a, b, _), staff_id = add_people(session)
    link = IdentityLink(
        patient_a_id=a,
        patient_b_id=b,
        kind=LinkKind.MERGED_INTO,
        status=LinkStatus.CONFIRMED,
        score=0.97,
        match_evidence=EVIDENCE,
        reason="Same person registered twice by the front desk",
        method=LinkMethod.MANUAL,
        created_by_id=staff_id,
        decided_by_id=staff_id,
        decided_at=NOW,
    )
    session.add(link)
    session.flush()
    moved = {"encounter": [str(uuid.uuid4()), str(uuid.uuid4())], "condition": []}
    session.add(
        MergeRecord(
            link_id=link.id,
            survivor_id=b,
            merged_id=a,
            moved_records=moved,
            merged_snapshot={"given_name": "Katherine", "status": "active"},
            merged_at=NOW,
            merged_by_id=staff_id,
        )
    )
    session.flush()
    session.expunge_all()

    stored = session.scalars(
        select(IdentityLink)
        .where(IdentityLink.patient_a_id == a)
        .options(
            selectinload(IdentityLink.merges),
            selectinload(IdentityLink.patient_a),
            selectinload(IdentityLink.patient_b),
        )
    ).one()
    assert (stored.kind, stored.status, stored.method) == (
        LinkKind.MERGED_INTO,
        LinkStatus.CONFIRMED,
        LinkMethod.MANUAL,
    )
    assert stored.score == pytest.approx(0.97)
    assert stored.match_evidence == EVIDENCE
    assert stored.decided_at == NOW
    assert (stored.patient_a.given_name, stored.patient_b.given_name) == ("Katherine", "Kate")
    (merge,) = stored.merges
    assert merge.moved_records == moved
    assert (merge.survivor_id, merge.merged_id) == (b, a)
    assert merge.merged_snapshot["given_name"] == "Katherine"

    # Both patient columns are indexed for "links of this patient" lookups.
    link_table = IdentityLink.__table__
    assert isinstance(link_table, Table)
    indexed = {tuple(ix.columns.keys()) for ix in link_table.indexes}
    assert {("patient_a_id",), ("patient_b_id",)} <= indexed


def test_undo_keeps_the_history(session: Session) -> None:
    (a, b, _), staff_id = add_people(session)
    link = IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.MERGED_INTO)
    session.add(link)
    session.flush()
    link.status = LinkStatus.UNDONE
    link.undone_at = NOW
    link.undone_by_id = staff_id
    link.undo_reason = "Twins, not one person"
    session.flush()
    assert link.version == 2
    session.expunge_all()
    stored = session.get(IdentityLink, link.id)
    assert stored is not None
    assert (stored.status, stored.undo_reason) == (LinkStatus.UNDONE, "Twins, not one person")


def test_a_patient_cannot_be_linked_to_itself(session: Session) -> None:
    (a, _, _), _ = add_people(session)
    session.add(IdentityLink(patient_a_id=a, patient_b_id=a, kind=LinkKind.POSSIBLE_DUPLICATE))
    with pytest.raises(IntegrityError):
        session.flush()


def test_merge_needs_two_patients(session: Session) -> None:
    (a, b, _), _ = add_people(session)
    link = IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.MERGED_INTO)
    session.add(link)
    session.flush()
    session.add(MergeRecord(link_id=link.id, survivor_id=a, merged_id=a, merged_at=NOW))
    with pytest.raises(IntegrityError):
        session.flush()


def test_score_is_a_probability(session: Session) -> None:
    (a, b, _), _ = add_people(session)
    session.add(
        IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.POSSIBLE_DUPLICATE, score=1.5)
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_open_suggestion_per_pair(session: Session) -> None:
    (a, b, c), _ = add_people(session)
    # Closed links of the same pair, and open links of other pairs or kinds, coexist.
    session.add_all(
        [
            IdentityLink(
                patient_a_id=a,
                patient_b_id=b,
                kind=LinkKind.POSSIBLE_DUPLICATE,
                status=LinkStatus.REJECTED,
            ),
            IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.POSSIBLE_DUPLICATE),
            IdentityLink(patient_a_id=a, patient_b_id=c, kind=LinkKind.POSSIBLE_DUPLICATE),
            IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.NOT_DUPLICATE),
        ]
    )
    session.flush()
    session.add(IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.POSSIBLE_DUPLICATE))
    with pytest.raises(IntegrityError):
        session.flush()


def test_same_provenance_twice_is_refused(session: Session) -> None:
    (a, b, c), _ = add_people(session)
    for other in (b, c):
        session.add(
            IdentityLink(
                patient_a_id=a,
                patient_b_id=other,
                kind=LinkKind.POSSIBLE_DUPLICATE,
                source_system="mpi",
                source_id="link-1",
            )
        )
    with pytest.raises(IntegrityError):
        session.flush()


def test_stale_link_decision_raises(session: Session) -> None:
    (a, b, _), staff_id = add_people(session)
    link = IdentityLink(patient_a_id=a, patient_b_id=b, kind=LinkKind.POSSIBLE_DUPLICATE)
    session.add(link)
    session.flush()
    # Another reviewer decides first.
    session.execute(
        update(IdentityLink)
        .where(IdentityLink.id == link.id)
        .values(version=IdentityLink.version + 1, status=LinkStatus.REJECTED)
        .execution_options(synchronize_session=False)
    )
    link.status = LinkStatus.CONFIRMED
    link.decided_by_id = staff_id
    with pytest.raises(StaleDataError):
        session.flush()


def test_demo_duplicate_links(session: Session) -> None:
    (a, b, c), _ = add_people(session)
    ctx = DemoContext(seed=3, today=NOW.date(), staff={}, location_ids=[], care_teams={})
    sink = RowSink(random.Random(9), recorded_at=NOW)
    identity.setup(ctx, sink)
    pairs = [
        (a, b, "nickname"),
        (a, c, "moved house"),
        (a, b, "nickname"),  # given twice: written once
        (c, c, "nonsense"),  # a record is no duplicate of itself
    ]
    ids = identity.duplicate_links(ctx, pairs, sink)
    assert len(ids) == 2
    sink.flush(session.connection())

    links = {
        (link.patient_a_id, link.patient_b_id): link
        for link in session.scalars(select(IdentityLink).where(IdentityLink.id.in_(ids)))
    }
    assert set(links) == {(a, b), (a, c)}
    for link in links.values():
        assert (link.kind, link.status, link.method) == (
            LinkKind.POSSIBLE_DUPLICATE,
            LinkStatus.OPEN,
            LinkMethod.AUTOMATIC,
        )
        assert link.score is not None
        assert 0 < link.score < 1
        assert link.recorded_at <= NOW
        assert set(link.match_evidence) >= {"given_name", "family_name", "birth_date"}
    nickname, moved = links[(a, b)], links[(a, c)]
    assert nickname.match_evidence["given_name"]["agreement"] == "fuzzy"
    assert moved.match_evidence["postal_code"]["agreement"] == "disagree"
    assert nickname.reason is not None
    assert "nickname" in nickname.reason
    # Reproducible: the same pair gets the same score and evidence in another run.
    again = RowSink(random.Random(1), recorded_at=NOW)
    identity.duplicate_links(ctx, pairs[:1], again)
    link_table = IdentityLink.__table__
    assert isinstance(link_table, Table)
    (row,) = again.rows[link_table]
    assert row["score"] == nickname.score
    assert row["match_evidence"] == nickname.match_evidence
