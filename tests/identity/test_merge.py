"""Merging two patient records, on SQLite and PostgreSQL: every row moves, nothing is
deleted, collisions follow a rule, and the merged id keeps answering."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import Column, ForeignKey, MetaData, Table, Uuid, func, insert, select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditEvent
from backend.access.policy import CompiledPolicy, load_policy
from backend.access.principal import Principal
from backend.accounts.models import PortalAccount, PortalAccountStatus
from backend.clinical.models import Condition
from backend.db import Base
from backend.engagement.models import CommunicationSettings
from backend.identity.merge import (
    MergeConflict,
    MergeForbidden,
    MergeInputError,
    MergeNotFound,
    apply_automatic_links,
    merge_patients,
)
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus, MergeRecord
from backend.identity.ownership import NOT_MOVED, owned_tables
from backend.organization.models import CareTeamPatient
from backend.patients.models import Patient, PatientStatus
from backend.patients.service import get_patient, search_patients
from backend.settings import Settings
from tests.identity.factory import (
    NOW,
    chart,
    clinic,
    patient,
    portal_account,
    possible_link,
    settings_row,
)


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


def rows_of(session: Session, patient_id: uuid.UUID) -> dict[str, set[uuid.UUID]]:
    """Every patient-owned row of one patient, by table."""
    found: dict[str, set[uuid.UUID]] = {}
    for owned in owned_tables():
        table = owned.table
        ids = set(
            session.execute(select(table.c.id).where(table.c.patient_id == patient_id)).scalars()
        )
        if ids:
            found[table.name] = ids
    return found


def test_every_patient_table_is_owned_or_excluded_with_a_reason() -> None:
    with_fk = {
        t.name
        for t in Base.metadata.sorted_tables
        if "patient_id" in t.c
        and any(fk.column.table.name == "patient" for fk in t.c.patient_id.foreign_keys)
    }
    owned = {t.name for t in owned_tables()}
    assert with_fk == owned | set(NOT_MOVED)
    assert {"condition", "contact_point", "portal_account", "care_team_patient"} <= owned
    assert all(reason for reason in NOT_MOVED.values())


def test_merge_moves_every_row_keeps_provenance_and_deletes_nothing(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    survivor, merged = patient(session, world, "Katherine"), patient(session, world, "Kate")
    chart(session, survivor, 1, source="ehr-a")
    merged_rows = chart(session, merged, 2, source="ehr-b")
    provenance = {(r.source_system, r.source_id) for r in merged_rows}
    before_s, before_m = rows_of(session, survivor), rows_of(session, merged)
    total = session.execute(select(func.count()).select_from(Condition)).scalar()
    link_id = possible_link(session, survivor, merged)

    record = merge_patients(
        session=session,
        principal=world.principal("care_coordinator"),
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person, nickname",
        link_id=link_id,
        now=NOW,
    )

    after = rows_of(session, survivor)
    moved = {t: {uuid.UUID(i) for i in ids} for t, ids in record.moved_records.items()}
    # The merged record keeps only what a rule kept (its own care-team row here).
    assert rows_of(session, merged) == {"care_team_patient": before_m["care_team_patient"]}
    assert record.merged_snapshot["kept"] == {
        "care_team_patient": [str(i) for i in before_m["care_team_patient"]]
    }
    for table, ids in before_m.items():
        if table != "care_team_patient":
            assert moved[table] == ids
            assert after[table] == before_s.get(table, set()) | ids
    assert session.execute(select(func.count()).select_from(Condition)).scalar() == total
    conditions = session.execute(
        select(Condition).where(Condition.id.in_(moved["condition"]))
    ).scalars()
    for row in conditions:
        assert row.patient_id == survivor
        assert row.version == 2  # bumped: a stale write elsewhere fails
        assert (row.source_system, row.source_id) in provenance

    gone = session.get(Patient, merged)
    assert gone is not None
    assert gone.status is PatientStatus.MERGED
    assert record.merged_snapshot["patient"]["given_name"] == "Kate"
    assert record.merged_snapshot["patient"]["status"] == "active"
    link = session.get(IdentityLink, record.link_id)
    assert link is not None
    assert (link.kind, link.status, link.patient_a_id, link.patient_b_id) == (
        LinkKind.MERGED_INTO,
        LinkStatus.CONFIRMED,
        merged,
        survivor,
    )
    assert link.match_evidence["_total"] == 11.6
    review = session.get(IdentityLink, link_id)
    assert review is not None
    assert review.status is LinkStatus.CONFIRMED

    events = (
        session.execute(
            select(AuditEvent).where(
                AuditEvent.purpose == "merge", AuditEvent.patient_id.in_([survivor, merged])
            )
        )
        .scalars()
        .all()
    )
    assert {e.patient_id for e in events} == {survivor, merged}
    for event in events:
        assert event.action is AuditAction.UPDATE
        assert {"Patient", "MergeRecord", "Condition", "ContactPoint"} <= set(event.record_types)
        assert "Kate" not in repr(event.__dict__)
        assert "nickname" not in repr(event.__dict__)


def test_merged_id_reads_resolve_to_the_survivor(session: Session, policy: CompiledPolicy) -> None:
    world = clinic(session)
    survivor, merged = patient(session, world, "Margaret"), patient(session, world, "Peggy")
    who = world.principal("care_coordinator")
    merge_patients(
        session=session,
        principal=who,
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        now=NOW,
    )
    view = get_patient(session=session, principal=who, policy=policy, patient_id=merged, now=NOW)
    assert view is not None
    assert view.id == survivor
    assert view.given_name == "Margaret"
    found = search_patients(
        session=session, principal=who, policy=policy, text=f"Whitfield{world.tag}", now=NOW
    )
    assert [p.id for p in found.patients] == [survivor]


def test_unique_keys_collide_by_rule_not_crash(session: Session, policy: CompiledPolicy) -> None:
    world = clinic(session)
    # Survivor on the team until June; the merged record on it from February, open-ended.
    survivor = patient(session, world, "William", start=date(2025, 1, 1), end=date(2026, 6, 1))
    merged = patient(session, world, "Bill", start=date(2025, 2, 1), end=None)
    keep_settings, other_settings = settings_row(session, survivor), settings_row(session, merged)
    keep_account = portal_account(session, survivor, f"w-{world.tag}@example.org")
    other_account = portal_account(session, merged, f"b-{world.tag}@example.org")

    record = merge_patients(
        session=session,
        principal=world.principal("front_desk"),
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        now=NOW,
    )

    team_rows = (
        session.execute(select(CareTeamPatient).where(CareTeamPatient.patient_id == survivor))
        .scalars()
        .all()
    )
    assert [(r.start_date, r.end_date) for r in team_rows] == [(date(2025, 1, 1), None)]
    settings = session.execute(
        select(CommunicationSettings.id, CommunicationSettings.patient_id)
    ).all()
    assert (keep_settings, survivor) in settings
    assert (other_settings, merged) in settings
    kept = session.get(PortalAccount, other_account)
    assert kept is not None
    assert (kept.patient_id, kept.status, kept.superseded_by_id) == (
        merged,
        PortalAccountStatus.DISABLED,
        keep_account,
    )
    mine = session.get(PortalAccount, keep_account)
    assert mine is not None
    assert mine.status is PortalAccountStatus.ACTIVE
    assert set(record.merged_snapshot["kept"]) == {
        "care_team_patient",
        "communication_settings",
        "portal_account",
    }
    assert set(record.merged_snapshot["changed"]) == {"care_team_patient", "portal_account"}


def test_a_portal_account_on_the_merged_side_alone_moves_with_the_person(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    survivor, merged = patient(session, world, "Liam"), patient(session, world, "Will")
    account = portal_account(session, merged, f"l-{world.tag}@example.org")
    merge_patients(
        session=session,
        principal=world.principal("care_coordinator"),
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        now=NOW,
    )
    row = session.get(PortalAccount, account)
    assert row is not None
    assert row.patient_id == survivor
    assert row.status is PortalAccountStatus.ACTIVE


def test_a_new_patient_table_is_moved_without_changing_the_merge_code(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    survivor, merged = patient(session, world, "Ann"), patient(session, world, "Anne")
    meta = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(meta)
    probe = Table(
        f"probe_{world.tag}",
        meta,
        Column("id", Uuid, primary_key=True),
        Column("patient_id", Uuid, ForeignKey("patient.id"), nullable=False),
    )
    probe.create(session.connection())
    row_id = uuid.uuid4()
    session.execute(insert(probe).values(id=row_id, patient_id=merged))
    record = merge_patients(
        session=session,
        principal=world.principal("care_coordinator"),
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        now=NOW,
        metadata=meta,
    )
    assert record.moved_records[probe.name] == [str(row_id)]
    assert session.execute(select(probe.c.patient_id)).scalar_one() == survivor


def test_refusals_write_nothing(session: Session, policy: CompiledPolicy) -> None:
    world = clinic(session)
    a, b = patient(session, world, "Amy"), patient(session, world, "Amie")
    stranger = patient(session, world, "Zed", team=world.other_team)

    def merge(
        principal: Principal,
        survivor_id: uuid.UUID,
        merged_id: uuid.UUID,
        reason: str = "same person",
    ) -> MergeRecord:
        return merge_patients(
            session=session,
            policy=policy,
            principal=principal,
            survivor_id=survivor_id,
            merged_id=merged_id,
            reason=reason,
            now=NOW,
        )

    for role in ("admin", "billing", "physician"):
        with pytest.raises(MergeForbidden):
            merge(world.principal(role), a, b)
    who = world.principal("care_coordinator")
    with pytest.raises(MergeInputError):
        merge(who, a, a)
    with pytest.raises(MergeInputError):
        merge(who, a, b, reason="  ")
    for missing in (stranger, uuid.uuid4()):
        with pytest.raises(MergeNotFound):
            merge(who, a, missing)
    assert session.execute(select(func.count()).select_from(MergeRecord)).scalar() == 0
    merge(who, a, b)
    with pytest.raises(MergeConflict):
        merge(who, b, a)
    c = patient(session, world, "Amelia")
    with pytest.raises(MergeConflict):
        merge(who, c, b)


def test_automatic_links_become_merges_older_record_survives(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    older = patient(session, world, "Robert", recorded_at=NOW.replace(year=2024))
    newer = patient(session, world, "Bob", recorded_at=NOW.replace(year=2025))
    open_a, open_b = patient(session, world, "Ann"), patient(session, world, "Anna")
    possible_link(session, newer, older, status=LinkStatus.CONFIRMED, score=0.999)
    possible_link(session, open_a, open_b)  # the review band: not merged
    records = apply_automatic_links(session=session, policy=policy, now=NOW)
    assert [(r.survivor_id, r.merged_id) for r in records] == [(older, newer)]
    link = session.get(IdentityLink, records[0].link_id)
    assert link is not None
    assert link.method is LinkMethod.AUTOMATIC
    assert link.decided_by_id is None
    assert apply_automatic_links(session=session, policy=policy, now=NOW) == []


def test_records_recorded_at_the_same_moment_keep_the_smaller_id(
    session: Session, policy: CompiledPolicy
) -> None:
    """The tie-break of "the older record survives": the order the database sorts ids in
    (PostgreSQL's uuid order and SQLite's hex text order are both the numeric order)."""
    world = clinic(session)
    when = NOW.replace(year=2023)
    one, two = sorted(patient(session, world, name, recorded_at=when) for name in ("Cy", "Cyrus"))
    possible_link(session, one, two, status=LinkStatus.CONFIRMED, score=0.999)
    records = apply_automatic_links(session=session, policy=policy, now=NOW, pair=(two, one))
    assert [(r.survivor_id, r.merged_id) for r in records] == [(one, two)]
