"""match_patient on both databases: suggestions, automatic links, twins, decisions, reruns."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.identity.review import mark_not_duplicate
from backend.identity.unmerge import unmerge_patients
from backend.migrations import upgrade_to_head
from backend.mpi.batch import shared_keys
from backend.mpi.hooks import patients_changed
from backend.mpi.keys import CHUNK, PatientMatchKey, sync_keys
from backend.mpi.matcher import candidates, links_for_pairs, pair_of
from backend.mpi.model import default_model
from backend.mpi.normalize import MAX_BLOCK
from backend.mpi.records import from_patients
from backend.organization.models import CareTeamPatient
from backend.patients.models import ContactPoint, ContactSystem, Patient, PatientStatus
from tests.identity.factory import clinic
from tests.mpi_db.factory import (
    NOW,
    Shared,
    links,
    match,
    open_count,
    patient,
    policy,
    statements,
    surname,
)


def _twins(session: Session) -> tuple[uuid.UUID, uuid.UUID]:
    family = surname()
    shared: Shared = {
        "family": family,
        "birth": date(2001, 5, 9),
        "phone": "+12175550100",
        "line1": "1 Main St",
        "postcode": "62701",
    }
    return patient(session, given="Ada", **shared), patient(session, given="Ife", **shared)


def test_twins_are_suggested_for_review_with_evidence_never_linked(session: Session) -> None:
    ada, ife = _twins(session)
    match(session, ada)
    summary = match(session, ife)
    assert (summary.review, summary.auto_links, summary.merges) == (1, 0, 0)
    (link,) = links(session, ada, ife)
    assert link.status is LinkStatus.OPEN
    assert link.method is LinkMethod.AUTOMATIC
    assert link.match_evidence["given_name"]["agreement"] == "disagree"
    assert link.match_evidence["birth_date"]["agreement"] == "exact"
    assert isinstance(link.match_evidence["_total"], float)
    assert 0 <= (link.score or 0) <= 1
    assert link.matcher_version
    statuses = session.execute(select(Patient.status).where(Patient.id.in_([ada, ife])))
    assert set(statuses.scalars()) == {PatientStatus.ACTIVE}


def test_name_alone_or_name_and_address_never_links(session: Session) -> None:
    family = surname()
    a = patient(session, given="Margaret", family=family, birth=None, line1="9 Elm Rd")
    b = patient(session, given="Margaret", family=family, birth=None, line1="9 Elm Rd")
    c = patient(session, given="Margaret", family=family, birth=None)
    for pid in (a, b, c):
        match(session, pid)
    assert all(lk.status is not LinkStatus.CONFIRMED for lk in links(session, a, b, c))
    assert all(
        s is PatientStatus.ACTIVE
        for s in session.execute(select(Patient.status).where(Patient.id.in_([a, b, c]))).scalars()
    )


def test_the_same_person_links_automatically_and_merges_into_the_older_record(
    session: Session,
) -> None:
    family = surname()
    same: Shared = {"family": family, "phone": "+13125550142", "email": f"{family}@example.org"}
    first = patient(session, given="William", recorded_at=NOW - timedelta(days=30), **same)
    second = patient(session, given="William", **same)
    assert match(session, first).pairs_compared == 0  # not indexed yet: no candidate
    summary = match(session, second)
    assert (summary.auto_links, summary.merges) == (1, 1)
    session.expire_all()
    assert session.get_one(Patient, second).status is PatientStatus.MERGED
    assert session.get_one(Patient, first).status is PatientStatus.ACTIVE
    (link,) = links(session, first, second)
    assert (link.status, link.method) == (LinkStatus.CONFIRMED, LinkMethod.AUTOMATIC)
    # The merged record is nobody's candidate any more; the survivor has both phones' keys.
    assert not session.execute(
        select(PatientMatchKey).where(PatientMatchKey.patient_id == second)
    ).first()
    assert match(session, second).pairs_compared == 0
    assert match(session, first).pairs_compared == 0


def test_patient_reported_data_is_held_for_review_never_merged(session: Session) -> None:
    """The portal intake matches with ``review_only``: typing someone else's name, phone
    and e-mail must not fold one's own account into that person's record."""
    family = surname()
    same: Shared = {"family": family, "phone": "+13125550199", "email": f"{family}.r@example.org"}
    first = patient(session, given="William", recorded_at=NOW - timedelta(days=30), **same)
    second = patient(session, given="William", **same)
    match(session, first)
    summary = patients_changed(
        session, [second], now=NOW, model=default_model(), policy=policy(), review_only=True
    )
    assert (summary.auto_links, summary.merges, summary.review) == (0, 0, 1)
    session.expire_all()
    assert session.get_one(Patient, second).status is PatientStatus.ACTIVE
    (link,) = links(session, first, second)
    assert (link.status, link.method) == (LinkStatus.OPEN, LinkMethod.AUTOMATIC)


def test_same_source_identifier_is_a_rule_link(session: Session) -> None:
    family = surname()
    a = patient(session, given="Jo", family=family, mrn=("lab-a", f"M{family}"))
    b = patient(session, given="Joanna", family=family, mrn=("lab-a", f"M{family}"))
    match(session, a)
    summary = match(session, b)
    assert summary.merges == 1
    assert links(session, a, b)[0].method is LinkMethod.RULE


def test_matching_twice_changes_nothing(session: Session) -> None:
    ada, ife = _twins(session)
    match(session, ada)
    match(session, ife)
    before = [(lk.id, lk.version, lk.score, lk.match_evidence) for lk in links(session, ada, ife)]
    keys_before = set(session.execute(select(PatientMatchKey.__table__)).all())
    with statements(session) as seen:
        match(session, ife)
        match(session, ada)
    written = [s for s in seen if not s.lstrip().upper().startswith(("SELECT", "SAVEPOINT"))]
    assert written == []
    session.expire_all()
    after = [(lk.id, lk.version, lk.score, lk.match_evidence) for lk in links(session, ada, ife)]
    assert after == before
    assert set(session.execute(select(PatientMatchKey.__table__)).all()) == keys_before


def _called_not_duplicates(session: Session, ada: uuid.UUID, ife: uuid.UUID) -> None:
    """Both matched (one open suggestion), then staff decide they are two people."""
    world = clinic(session)
    session.add_all([CareTeamPatient(care_team_id=world.team, patient_id=p) for p in (ada, ife)])
    session.flush()
    match(session, ada)
    match(session, ife)
    assert open_count(session, ada, ife) == 1
    mark_not_duplicate(
        session=session,
        principal=world.principal("care_coordinator"),
        policy=policy(),
        patient_a_id=ada,
        patient_b_id=ife,
        reason="twin sisters, checked at the desk",
        now=NOW + timedelta(minutes=1),
    )
    assert open_count(session, ada, ife) == 0


def test_not_duplicate_stays_quiet_until_matching_data_change(session: Session) -> None:
    ada, ife = _twins(session)
    _called_not_duplicates(session, ada, ife)
    later = NOW + timedelta(minutes=5)
    quiet = match(session, ife, later)
    assert (quiet.skipped_not_duplicate, quiet.review, quiet.pairs_compared) == (1, 0, 0)
    assert open_count(session, ada, ife) == 0
    # A change that is not matching data (the language) keeps it quiet.
    session.get_one(Patient, ife).language = "fr"
    assert match(session, ife, later).skipped_not_duplicate == 1
    # A new e-mail is: the pair is scored again, and at most for review.
    session.add(ContactPoint(patient_id=ife, system=ContactSystem.EMAIL, value="ife@example.org"))
    session.flush()
    again = match(session, ife, later + timedelta(minutes=1))
    assert (again.skipped_not_duplicate, again.review, again.auto_links) == (0, 1, 0)
    assert open_count(session, ada, ife) == 1
    decision = session.execute(
        select(IdentityLink).where(IdentityLink.kind == LinkKind.NOT_DUPLICATE,
                                   IdentityLink.patient_a_id.in_([ada, ife]))
    ).scalar_one()  # fmt: skip
    assert decision.status is LinkStatus.CONFIRMED


def test_candidates_leave_out_merged_and_deleted_patients(session: Session) -> None:
    family = surname()
    ids = [patient(session, given=g, family=family, line1="2 Oak Av") for g in ("Al", "Bo", "Cy")]
    for pid in ids:
        match(session, pid)
    merged, deleted = (session.get(Patient, i) for i in ids[1:])
    assert merged is not None
    assert deleted is not None
    merged.status = PatientStatus.MERGED
    deleted.deleted_at = NOW
    session.flush()
    keys = from_patients(session, [ids[0]])[ids[0]].keys
    assert candidates(session, ids[0], keys) == []


def test_a_key_held_by_more_than_max_block_patients_finds_no_one(session: Session) -> None:
    """A clinic's phone number on every record says nothing: its holders are skipped
    (no birth date or address, so the phone is each record's only key)."""
    phone = "+13125550642"
    holders = [
        patient(session, given=f"G{surname()}", family=surname(), birth=None, phone=phone)
        for _ in range(MAX_BLOCK - 1)
    ]
    for holder in holders:
        match(session, holder)  # indexes its keys
    newcomer = patient(session, given="Ruth", family=surname(), birth=None, phone=phone)
    match(session, newcomer)  # indexes it: MAX_BLOCK holders, still selective
    keys = from_patients(session, [newcomer])[newcomer].keys
    assert set(candidates(session, newcomer, keys)) == set(holders)
    one_more = patient(session, given="Saul", family=surname(), birth=None, phone=phone)
    match(session, one_more)  # MAX_BLOCK + 1 holders now
    assert candidates(session, newcomer, keys) == []


def test_match_records_load_in_a_fixed_number_of_queries(session: Session) -> None:
    family = surname()
    few = [patient(session, given="Al", family=family, phone="+13125550100") for _ in range(3)]
    many = [
        patient(session, given="Bo", family=family, email=f"b{n}@example.org", line1="1 Main St")
        for n in range(40)
    ]
    counts = []
    for ids in (few, many):
        with statements(session) as seen:
            loaded = from_patients(session, ids)
        assert set(loaded) == set(ids)
        counts.append(len(seen))
    assert counts[0] == counts[1] == 2  # the patients, then their contacts, addresses, ids


def test_an_unmerge_reindexes_both_records_and_the_pair_stays_quiet(session: Session) -> None:
    family = surname()
    same: Shared = {"family": family, "phone": "+13125550177", "email": f"{family}@example.org"}
    first = patient(session, given="Nora", recorded_at=NOW - timedelta(days=3), **same)
    second = patient(session, given="Nora", **same)
    match(session, first)
    assert match(session, second).merges == 1
    merged_into = session.execute(
        select(IdentityLink).where(
            IdentityLink.kind == LinkKind.MERGED_INTO, IdentityLink.patient_a_id == second
        )
    ).scalar_one()
    later = NOW + timedelta(minutes=2)
    unmerge_patients(
        session=session,
        principal=None,
        policy=policy(),
        link_id=merged_into.id,
        reason="two people after all",
        now=later,
    )
    indexed = session.execute(
        select(PatientMatchKey.patient_id).where(PatientMatchKey.patient_id == second)
    ).first()
    assert indexed is not None
    quiet = match(session, second, later + timedelta(minutes=1))
    assert (quiet.skipped_not_duplicate, quiet.auto_links, quiet.merges) == (1, 0, 0)


def _candidate_lookups(seen: list[str]) -> int:
    """Candidate queries among ``seen`` (the only statements counting a key's holders)."""
    return sum("OVER (PARTITION BY" in s and "patient_match_key" in s for s in seen)


def test_a_merge_that_brings_nothing_new_skips_the_survivors_second_look(
    session: Session,
) -> None:
    """The same phone and e-mail again: the survivor's match record is what it was, so a
    second candidate look-up would score the same pairs the same way."""
    family = surname()
    same: Shared = {"family": family, "phone": "+13125550111", "email": f"{family}@example.org"}
    first = patient(session, given="Ruth", recorded_at=NOW - timedelta(days=3), **same)
    second = patient(session, given="Ruth", **same)
    match(session, first)
    before = from_patients(session, [first])[first]
    with statements(session) as seen:
        summary = match(session, second)
    assert (summary.auto_links, summary.merges) == (1, 1)
    assert _candidate_lookups(seen) == 1  # the newcomer's own look-up only
    after = from_patients(session, [first])[first]
    assert (after.record, after.keys) == (before.record, before.keys)


def test_a_third_record_found_only_through_the_merged_one_is_merged_too(
    session: Session,
) -> None:
    """A-B, B-C: the merged record brings its phone to the survivor, whose second look
    then links the third record (another family name: alone with A it is for review)."""
    family, born = surname(), date(1968, 3, 14)
    email, phone = f"{family}@example.org", "+13125550133"
    oldest = patient(session, given="Walter", family=family, birth=born, email=email,
                     recorded_at=NOW - timedelta(days=9))  # fmt: skip
    married = patient(session, given="Walter", family=surname(), birth=born, phone=phone,
                      recorded_at=NOW - timedelta(days=5))  # fmt: skip
    newest = patient(session, given="Walter", family=family, birth=born, email=email,
                     phone=phone)  # fmt: skip
    match(session, oldest)
    assert match(session, married).auto_links == 0  # names differ, one identifier agrees
    with statements(session) as seen:
        summary = match(session, newest)
    assert (summary.auto_links, summary.merges) == (3, 2)
    assert _candidate_lookups(seen) == 2  # the newcomer's, then the grown survivor's
    session.expire_all()
    statuses = session.execute(
        select(Patient.id, Patient.status).where(Patient.id.in_([oldest, married, newest]))
    )
    assert dict(statuses.tuples().all()) == {
        oldest: PatientStatus.ACTIVE,
        married: PatientStatus.MERGED,
        newest: PatientStatus.MERGED,
    }


def test_a_not_duplicate_decision_reopens_after_a_merge_even_with_nothing_new(
    session: Session,
) -> None:
    """A merge changes the survivor's fingerprint (its phone twice now): twins staff
    called "not a duplicate" are scored again for review in the survivor's second look,
    as on any change of matching data, though its match record did not change."""
    shared: Shared = {
        "family": surname(),
        "birth": date(2001, 5, 9),
        "phone": "+12175550100",
        "line1": "1 Main St",
        "postcode": "62701",
    }
    ada = patient(session, given="Ada", recorded_at=NOW - timedelta(days=9), **shared)
    ife = patient(session, given="Ife", recorded_at=NOW - timedelta(days=8), **shared)
    _called_not_duplicates(session, ada, ife)
    again = patient(session, given="Ada", **shared)
    before = from_patients(session, [ada])[ada].record
    with statements(session) as seen:
        summary = match(session, again, NOW + timedelta(minutes=5))
    assert (summary.auto_links, summary.merges) == (1, 1)
    assert from_patients(session, [ada])[ada].record == before
    assert open_count(session, ada, ife) == 1
    assert _candidate_lookups(seen) == 2  # the decision is an open question: look again


def test_links_for_pairs_reads_only_the_links_of_the_pairs_asked_about(session: Session) -> None:
    family = surname()
    p1, p2, p3, p4 = (patient(session, given=g, family=family) for g in ("Al", "Bo", "Cy", "Di"))

    def link(a: uuid.UUID, b: uuid.UUID, kind: LinkKind, status: LinkStatus) -> IdentityLink:
        row = IdentityLink(patient_a_id=a, patient_b_id=b, kind=kind, status=status)
        session.add(row)
        return row

    suggested = link(p1, p2, LinkKind.POSSIBLE_DUPLICATE, LinkStatus.OPEN)
    decided = link(p3, p1, LinkKind.NOT_DUPLICATE, LinkStatus.CONFIRMED)  # stored b-a
    link(p1, p4, LinkKind.POSSIBLE_DUPLICATE, LinkStatus.REJECTED)  # withdrawn: no matter
    link(p2, p3, LinkKind.POSSIBLE_DUPLICATE, LinkStatus.OPEN)  # a pair not asked about
    session.flush()
    asked = [(p1, p2), (p1, p3), (p4, p1)]
    expected = {pair_of(p1, p2): [suggested], pair_of(p1, p3): [decided], pair_of(p1, p4): []}
    assert links_for_pairs(session, asked) == expected
    # More patients than one IN list holds: the other side is checked in Python.
    strangers = [(p1, uuid.uuid4()) for _ in range(CHUNK)]
    found = links_for_pairs(session, asked + strangers)
    assert {pair: found[pair] for pair in expected} == expected
    assert not any(found[pair_of(*pair)] for pair in strangers)


def test_key_look_ups_and_removals_search_an_index_on_sqlite(
    fresh_database_url: Callable[[str], str],
) -> None:
    """SQLite scanned every patient's keys for a row-value IN: a look-up's (and a
    changed key's removal's) cost grew with the patients held. The candidate and the
    batch look-ups and the removal must search an index. SQLite only: PostgreSQL's plan
    depends on its statistics, which a test database does not have."""
    url = fresh_database_url("sqlite")
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            _key_look_ups_search_an_index(session)
    finally:
        engine.dispose()


def _key_look_ups_search_an_index(session: Session) -> None:
    bind = session.connection()
    first = patient(session, given="Al", family=surname(), phone="+13125550177")
    match(session, first)
    keys = sorted(from_patients(session, [first])[first].keys)
    seen: list[tuple[str, Any]] = []

    def log(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "patient_match_key" in statement and ("holders" in statement or "DELETE" in statement):
            seen.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", log)
    try:
        candidates(session, uuid.uuid4(), keys)
        shared_keys(session, {uuid.uuid4(): frozenset(keys)})
        sync_keys(session, {first: frozenset(keys[3:])}, {first: "changed"}, now=NOW)
    finally:
        event.remove(bind, "before_cursor_execute", log)
    assert len(seen) == 3
    for statement, parameters in seen:
        plan = [
            row[-1] for row in bind.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        ]
        assert any(step.startswith("SEARCH patient_match_key USING") for step in plan), plan
        assert not any(step.startswith("SCAN patient_match_key") for step in plan), plan
    assert set(
        session.execute(
            select(PatientMatchKey.kind, PatientMatchKey.value).where(
                PatientMatchKey.patient_id == first
            )
        ).tuples()
    ) == set(keys[3:])
