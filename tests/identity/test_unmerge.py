"""Unmerge restores exactly the state before the merge, including records added on both
sides since, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, load_policy
from backend.accounts.models import PortalAccount, PortalAccountStatus
from backend.clinical.models import Condition
from backend.common.types import Code
from backend.identity.merge import MergeConflict, MergeForbidden, MergeNotFound, merge_patients
from backend.identity.models import IdentityLink, LinkKind, LinkStatus, MergeRoutedRecord
from backend.identity.ownership import owned_tables
from backend.identity.unmerge import unmerge_patients
from backend.organization.models import CareTeamPatient
from backend.patients.models import Patient, PatientStatus
from backend.settings import Settings
from tests.identity.factory import NOW, chart, clinic, patient, portal_account, possible_link

LATER = NOW + timedelta(days=3)
SKIP = {"version", "updated_at"}  # bumped by every move: the one thing allowed to differ


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


def state(session: Session, patients: tuple[uuid.UUID, ...]) -> dict[str, Any]:
    """Every patient-owned row of these patients (all columns but version/updated_at),
    and the patients' own columns."""
    session.expire_all()
    found: dict[str, Any] = {}
    for owned in owned_tables():
        table = owned.table
        cols = [c for c in table.c if c.name not in SKIP]
        rows = session.execute(
            select(*cols).where(table.c.patient_id.in_(patients)).order_by(table.c.id)
        ).all()
        if rows:
            found[table.name] = [tuple(r) for r in rows]
    pcols = [c for c in Patient.__table__.c if c.name not in SKIP]
    found["patient"] = [
        tuple(r)
        for r in session.execute(
            select(*pcols).where(Patient.__table__.c.id.in_(patients)).order_by(Patient.id)
        ).all()
    ]
    return found


def condition(patient_id: uuid.UUID, n: int, source: str) -> Condition:
    return Condition(
        patient_id=patient_id,
        code=Code("icd", f"Z{n}", f"Later {n}"),
        source_system=source,
        source_id=f"later-{uuid.uuid4().hex[:10]}",
    )


def test_unmerge_restores_everything_and_sends_later_records_home(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    survivor = patient(session, world, "William", start=date(2025, 1, 1), end=date(2026, 6, 1))
    merged = patient(session, world, "Bill", start=date(2025, 2, 1))
    chart(session, survivor, 1, source="ehr-a")
    chart(session, merged, 2, source="ehr-b")
    account_s = portal_account(session, survivor, f"w-{world.tag}@example.org")
    account_m = portal_account(session, merged, f"b-{world.tag}@example.org")
    link_id = possible_link(session, survivor, merged)
    before = state(session, (survivor, merged))
    who = world.principal("care_coordinator")

    record = merge_patients(
        session=session,
        principal=who,
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        link_id=link_id,
        now=NOW,
    )
    # After the merge: a feed still addressing the merged record (routed to the
    # survivor), and staff adding to the survivor directly.
    from_merged = condition(merged, 1, "ehr-b")
    to_survivor = condition(survivor, 2, "ehr-a")
    session.add_all([from_merged, to_survivor])
    session.flush()
    assert from_merged.patient_id == survivor
    routed = session.execute(select(MergeRoutedRecord)).scalars().all()
    assert [(r.row_id, r.from_patient_id, r.to_patient_id) for r in routed] == [
        (from_merged.id, merged, survivor)
    ]

    unmerge_patients(
        session=session,
        principal=who,
        policy=policy,
        link_id=record.link_id,
        reason="two different people",
        now=LATER,
    )

    after = state(session, (survivor, merged))
    added = {from_merged.id: merged, to_survivor.id: survivor}
    after_conditions = [r for r in after["condition"] if r[0] not in added]
    assert after_conditions == before["condition"]
    assert {r[0]: r[1] for r in after["condition"] if r[0] in added} == added
    for table in before:
        if table != "condition":
            assert after[table] == before[table], table
    assert set(after) == set(before)
    account = session.get(PortalAccount, account_m)
    assert account is not None
    assert account.status is PortalAccountStatus.ACTIVE
    assert account.superseded_by_id is None
    assert account_s != account_m
    link = session.get(IdentityLink, record.link_id)
    assert link is not None
    assert link.status is LinkStatus.UNDONE
    assert link.undone_at == LATER
    review = session.get(IdentityLink, link_id)
    assert review is not None
    assert review.status is LinkStatus.UNDONE
    not_dup = session.execute(
        select(IdentityLink).where(IdentityLink.kind == LinkKind.NOT_DUPLICATE)
    ).scalar_one()
    assert {not_dup.patient_a_id, not_dup.patient_b_id} == {survivor, merged}
    assert record.unmerged_at == LATER
    with pytest.raises(MergeConflict):
        unmerge_patients(
            session=session,
            principal=who,
            policy=policy,
            link_id=record.link_id,
            reason="again please",
            now=LATER,
        )


def test_a_later_deliberate_edit_wins_over_the_undo(
    session: Session, policy: CompiledPolicy
) -> None:
    world = clinic(session)
    survivor = patient(session, world, "Ann", start=date(2025, 1, 1), end=date(2026, 6, 1))
    merged = patient(session, world, "Anne", start=date(2025, 2, 1))
    who = world.principal("care_coordinator")
    record = merge_patients(
        session=session,
        principal=who,
        policy=policy,
        survivor_id=survivor,
        merged_id=merged,
        reason="same person",
        now=NOW,
    )
    row = session.execute(
        select(CareTeamPatient).where(CareTeamPatient.patient_id == survivor)
    ).scalar_one()
    assert row.end_date is None  # widened by the merge
    row.end_date = date(2026, 12, 31)  # a coordinator sets an end since
    session.flush()
    unmerge_patients(
        session=session,
        principal=who,
        policy=policy,
        link_id=record.link_id,
        reason="two different people",
        now=LATER,
    )
    session.refresh(row)
    assert row.end_date == date(2026, 12, 31)


def test_chained_merges_unmerge_in_reverse_order(session: Session, policy: CompiledPolicy) -> None:
    world = clinic(session)
    a, b, c = (patient(session, world, n) for n in ("Al", "Albert", "Bert"))
    chart(session, a, 1)
    who = world.principal("care_coordinator")
    args: dict[str, Any] = {"session": session, "principal": who, "policy": policy}
    first = merge_patients(survivor_id=b, merged_id=a, reason="same person", now=NOW, **args)
    second = merge_patients(survivor_id=c, merged_id=b, reason="same person", now=NOW, **args)
    late = condition(a, 9, "ehr-b")  # addressed to the first merged record: lands on c
    session.add(late)
    session.flush()
    assert late.patient_id == c
    with pytest.raises(MergeConflict):
        unmerge_patients(link_id=first.link_id, reason="not the same", now=LATER, **args)
    unmerge_patients(link_id=second.link_id, reason="not the same", now=LATER, **args)
    session.refresh(late)
    assert late.patient_id == b  # a is still merged into b
    unmerge_patients(link_id=first.link_id, reason="not the same", now=LATER, **args)
    session.refresh(late)
    assert late.patient_id == a
    statuses = session.execute(select(Patient.status).where(Patient.id.in_([a, b, c]))).scalars()
    assert set(statuses) == {PatientStatus.ACTIVE}


def test_unmerge_refusals(session: Session, policy: CompiledPolicy) -> None:
    world = clinic(session)
    a, b = patient(session, world, "Cy"), patient(session, world, "Cyrus")
    record = merge_patients(
        session=session,
        principal=world.principal("front_desk"),
        policy=policy,
        survivor_id=a,
        merged_id=b,
        reason="same person",
        now=NOW,
    )
    args: dict[str, Any] = {"session": session, "policy": policy, "reason": "undo it", "now": LATER}
    with pytest.raises(MergeForbidden):
        unmerge_patients(principal=world.principal("billing"), link_id=record.link_id, **args)
    outsider = world.principal("care_coordinator", teams=(world.other_team,))
    for link_id in (record.link_id, uuid.uuid4()):
        with pytest.raises(MergeNotFound):
            unmerge_patients(principal=outsider, link_id=link_id, **args)
