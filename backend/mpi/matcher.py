"""Match one new or changed patient against the index and record what was found.

For the patient: rebuild its blocking keys, find the few patients sharing a key (an
index lookup on ``patient_match_key``), score each pair and keep one link per pair:

* review band: one open ``possible_duplicate`` link, its score and evidence refreshed;
* link band: a ``possible_duplicate`` link confirmed with method ``automatic`` (or
  ``rule`` when a deterministic rule decided), which :func:`apply_automatic_links`
  turns into a merge;
* separate: nothing, and an open suggestion the matcher made earlier is withdrawn.

A pair staff marked "not a duplicate" stays quiet until either record's matching data
changes after the decision (:mod:`.keys` keeps when that was); even then it comes back
for review only, never as an automatic link: people already judged it once.

Running it twice writes nothing the second time.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, policy_store
from backend.db import Base, narrows_row_values, row_in, row_in_params
from backend.identity.merge import apply_automatic_links
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.mpi import score as scoring
from backend.mpi.keys import CHUNK, Key, PatientMatchKey, changed_at, drop_keys
from backend.mpi.model import MatchModel
from backend.mpi.normalize import MAX_BLOCK, MatchRecord
from backend.mpi.records import (
    PATIENT_COLUMNS,
    Loaded,
    from_patients,
    loaded_from_rows,
    sync_loaded,
)
from backend.patients.models import Patient, PatientStatus
from backend.settings import get_settings

MAX_CANDIDATES = 50  # most shared keys first: the rest are weaker than these
WITHDRAWN = "no longer similar after a change to either record"


@dataclass(slots=True)
class MatchSummary:
    """What matching did, summed over patients."""

    patients: int = 0
    pairs_compared: int = 0
    auto_links: int = 0
    review: int = 0
    skipped_not_duplicate: int = 0
    withdrawn: int = 0
    merges: int = 0
    linked_pairs: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    def add(self, other: MatchSummary) -> None:
        self.patients += other.patients
        self.pairs_compared += other.pairs_compared
        self.auto_links += other.auto_links
        self.review += other.review
        self.skipped_not_duplicate += other.skipped_not_duplicate
        self.withdrawn += other.withdrawn
        self.merges += other.merges
        self.linked_pairs += other.linked_pairs


def key_holders(*columns: Any, narrowed: bool = False) -> Any:
    """The ``patient_match_key`` rows of the keys in the expanding parameter ``wanted``
    (``(kind, value)`` pairs), with ``columns`` and ``holders``: how many patients hold
    that key, so a key held by more than MAX_BLOCK of them can be left out.
    ``narrowed`` (SQLite): the kinds and values also come as plain lists
    (:func:`~backend.db.row_in`; a look-up cost 16 ms at 10,000 patients without)."""
    wanted = row_in(
        (PatientMatchKey.kind, PatientMatchKey.value),
        "wanted",
        narrow_by=_KEY_COLUMNS if narrowed else (),
    )
    return (
        select(
            PatientMatchKey.patient_id,
            *columns,
            func.count()
            .over(partition_by=(PatientMatchKey.kind, PatientMatchKey.value))
            .label("holders"),
        )
        .where(wanted)
        .subquery()
    )


_KEY_COLUMNS = (0, 1)  # a key's kind and value, each searched in the key index


def key_parameters(session: Session, wanted: list[Key]) -> tuple[bool, dict[str, Any]]:
    """Whether to look ``wanted`` up ``narrowed`` (:func:`key_holders`), and the
    parameters of :func:`key_holders` for it."""
    narrowed = narrows_row_values(session)
    return narrowed, row_in_params("wanted", wanted, narrow_by=_KEY_COLUMNS if narrowed else ())


@functools.cache
def _candidate_query(columns: tuple[Any, ...], narrowed: bool) -> Any:
    """The candidate query, built once per column list: its parameters are the
    patient (``me``), its keys (``wanted``, an expanding IN of (kind, value) pairs,
    ``narrowed`` with plain lists too: :func:`key_holders`) and
    ``limit``. Building the construct cost as much as running it."""
    # A key held by more than MAX_BLOCK patients (a common surname's sound and a birth
    # year, at a million patients) is skipped, as the scan skips it: its holders are
    # strangers to one another, and reading hundreds of them was most of a lookup's time.
    hits = key_holders(narrowed=narrowed)
    shared = func.count().label("shared")
    grouped = (
        select(hits.c.patient_id, shared)
        .where(hits.c.holders <= MAX_BLOCK, hits.c.patient_id != bindparam("me"))
        .group_by(hits.c.patient_id)
        .subquery()
    )
    return (
        select(*columns)
        .select_from(grouped)
        .join(Patient, Patient.id == grouped.c.patient_id)
        .where(Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED)
        .order_by(grouped.c.shared.desc(), grouped.c.patient_id)
        .limit(bindparam("limit"))
    )


def _candidate_rows(
    session: Session, patient_id: uuid.UUID, wanted: list[Key], limit: int, columns: tuple[Any, ...]
) -> Any:
    narrowed, params = key_parameters(session, wanted)
    return session.execute(
        _candidate_query(columns, narrowed), {"me": patient_id, "limit": limit, **params}
    )


def candidates(
    session: Session, patient_id: uuid.UUID, keys: Iterable[Key], *, limit: int = MAX_CANDIDATES
) -> list[uuid.UUID]:
    """Live patients sharing at least one selective blocking key (held by at most
    ``MAX_BLOCK`` patients), most shared keys first."""
    wanted = sorted(keys)
    if not wanted:
        return []
    return list(_candidate_rows(session, patient_id, wanted, limit, (Patient.id,)).scalars())


def candidate_records(
    session: Session, patient_id: uuid.UUID, keys: Iterable[Key], *, limit: int = MAX_CANDIDATES
) -> dict[uuid.UUID, Loaded]:
    """The match records of :func:`candidates`: the candidate query reads their patient
    columns too, so they cost one more query (their contacts, addresses, identifiers)."""
    wanted = sorted(keys)
    if not wanted:
        return {}
    rows = _candidate_rows(session, patient_id, wanted, limit, tuple(PATIENT_COLUMNS)).all()
    return loaded_from_rows(session, rows)


Pair = tuple[uuid.UUID, uuid.UUID]  # ordered: the smaller id first


def pair_of(a: uuid.UUID, b: uuid.UUID) -> Pair:
    return (a, b) if a < b else (b, a)


def links_for_pairs(session: Session, pairs: Iterable[Pair]) -> dict[Pair, list[IdentityLink]]:
    """The links that matter to the matcher (open or confirmed suggestions, decisions)
    between the two patients of each pair, in either order.

    First which links those are (ids, patients, kind and status: plain columns), then
    only those as objects. A batch's candidates hold some five suggestions each with
    one another, none of them a pair scored now; loading them all as objects (evidence
    and all) cost more than the rest of the look-up."""
    wanted = {pair_of(a, b) for a, b in pairs}
    found: dict[Pair, list[IdentityLink]] = {p: [] for p in wanted}
    ids = sorted({i for p in wanted for i in p})
    # Both patients of a wanted pair are in ``ids``, so whichever is stored as patient_a
    # is found by this side alone. When the ids fit in one IN list, the other side is
    # asked for too; more ids than that, it is checked here, not in an IN list of
    # thousands of parameters (slow to send and to plan). Kind and status are checked
    # here too: on SQLite, asking for them made the status index (the whole table's
    # open suggestions) the look-up's path instead of the patients'.
    both = len(ids) <= CHUNK
    matter: list[uuid.UUID] = []
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        params = {"ids": part, "others": part} if both else {"ids": part}
        for link_id, a, b, kind, status in session.execute(_link_pairs_query(both), params):
            if kind in _MATTER_KINDS and status in _MATTER_STATUSES and pair_of(a, b) in found:
                matter.append(link_id)
    for start in range(0, len(matter), CHUNK):
        part = matter[start : start + CHUNK]
        for link in session.execute(_LINKS_BY_ID, {"ids": part}).scalars():
            found[pair_of(link.patient_a_id, link.patient_b_id)].append(link)
    return found


_MATTER_KINDS = frozenset({LinkKind.POSSIBLE_DUPLICATE, LinkKind.NOT_DUPLICATE})
_MATTER_STATUSES = frozenset({LinkStatus.OPEN, LinkStatus.CONFIRMED})
_LINKS_BY_ID = (
    select(IdentityLink)
    .where(IdentityLink.id.in_(bindparam("ids", expanding=True)))
    .order_by(IdentityLink.id)
)


@functools.cache
def _link_pairs_query(both_sides: bool) -> Any:
    """Built once, as :func:`_candidate_query`: the links with patient_a in ``ids``
    (and, ``both_sides``, patient_b in ``others``)."""
    query = select(
        IdentityLink.id,
        IdentityLink.patient_a_id,
        IdentityLink.patient_b_id,
        IdentityLink.kind,
        IdentityLink.status,
    ).where(IdentityLink.patient_a_id.in_(bindparam("ids", expanding=True)))
    if both_sides:
        query = query.where(IdentityLink.patient_b_id.in_(bindparam("others", expanding=True)))
    return query


def evidence_of(result: scoring.MatchScore) -> dict[str, object]:
    """``match_evidence`` as the review queue reads it: per field, plus the total."""
    evidence: dict[str, object] = {
        name: dict(item) if isinstance(item, dict) else item
        for name, item in result.evidence.items()
    }
    evidence["_total"] = round(float(result.total), 4)
    if result.rule:
        evidence["_rule"] = result.rule
    return evidence


def _refresh(
    link: IdentityLink, probability: float, evidence: dict[str, object], version: str
) -> None:
    # Assign only what differs: an unchanged link keeps its version (idempotence).
    if link.score != probability:
        link.score = probability
    if link.match_evidence != evidence:
        link.match_evidence = evidence
    if link.matcher_version != version:
        link.matcher_version = version


def record_pair(
    session: Session,
    *,
    pair: Pair,
    result: scoring.MatchScore,
    links: list[IdentityLink],
    recheck_after_decision: bool,
    model: MatchModel,
    now: datetime,
    summary: MatchSummary,
    new_suggestions: list[dict[str, Any]] | None = None,
) -> None:
    """Write or refresh the one link this pair's score calls for. ``new_suggestions``:
    a new suggestion for review is added there (as the row to insert), not to the
    session."""
    suggestions = [lk for lk in links if lk.kind is LinkKind.POSSIBLE_DUPLICATE]
    open_link = next((lk for lk in suggestions if lk.status is LinkStatus.OPEN), None)
    if any(lk.status is LinkStatus.CONFIRMED for lk in suggestions):
        return  # already linked (a merge follows, or staff decided): nothing to add
    outcome = result.outcome
    if recheck_after_decision and outcome is scoring.Outcome.LINK:
        outcome = scoring.Outcome.REVIEW
    probability = min(1.0, max(0.0, float(result.probability)))
    evidence = evidence_of(result)
    version = model.matcher_version
    if outcome is scoring.Outcome.SEPARATE:
        if open_link is not None and open_link.method is LinkMethod.AUTOMATIC:
            open_link.status = LinkStatus.REJECTED
            open_link.decided_at = now
            open_link.reason = WITHDRAWN
            summary.withdrawn += 1
        return
    a, b = pair
    if outcome is scoring.Outcome.REVIEW:
        summary.review += 1
        if open_link is None:
            row = {
                "id": uuid.uuid4(),
                "patient_a_id": a,
                "patient_b_id": b,
                "kind": LinkKind.POSSIBLE_DUPLICATE,
                "status": LinkStatus.OPEN,
                "method": LinkMethod.AUTOMATIC,
                "score": probability,
                "match_evidence": evidence,
                "matcher_version": version,
            }
            if new_suggestions is not None:
                new_suggestions.append(row)
            else:
                session.add(IdentityLink(**row))
        else:
            _refresh(open_link, probability, evidence, version)
        return
    summary.auto_links += 1
    summary.linked_pairs.append(pair)
    link = open_link or IdentityLink(
        id=uuid.uuid4(), patient_a_id=a, patient_b_id=b, kind=LinkKind.POSSIBLE_DUPLICATE
    )
    link.status = LinkStatus.CONFIRMED
    # LINK with a rule named is the deterministic rule (same source identifier).
    link.method = LinkMethod.RULE if result.rule else LinkMethod.AUTOMATIC
    link.decided_at = now
    link.reason = "automatic link by the patient matcher"
    _refresh(link, probability, evidence, version)
    if open_link is None:
        session.add(link)


def score_pairs(
    session: Session,
    pairs: Sequence[Pair],
    records: Mapping[uuid.UUID, MatchRecord],
    *,
    model: MatchModel,
    now: datetime,
    summary: MatchSummary,
    review_only: bool = False,
) -> None:
    """Score each pair of live patients and record the outcome; pairs with a
    "not a duplicate" decision and no data change since are skipped. ``review_only``
    holds every would-be link for review instead."""
    pairs = [pair_of(a, b) for a, b in pairs if a in records and b in records]
    links = links_for_pairs(session, pairs)
    decided = {
        key: lk for key, found in links.items() for lk in found if lk.kind is LinkKind.NOT_DUPLICATE
    }
    changes = changed_at(session, {i for key in decided for i in key}) if decided else {}
    suggested: list[dict[str, Any]] = []
    for pair in pairs:
        decision = decided.get(pair)
        recheck = review_only
        if decision is not None:
            times = [t for t in (changes.get(pair[0]), changes.get(pair[1])) if t is not None]
            when = decision.decided_at or decision.recorded_at
            if not times or max(times) <= when:
                summary.skipped_not_duplicate += 1
                continue
            recheck = True
        summary.pairs_compared += 1
        result = scoring.score_pair(records[pair[0]], records[pair[1]], model)
        record_pair(
            session,
            pair=pair,
            result=result,
            links=links[pair],
            recheck_after_decision=recheck,
            model=model,
            now=now,
            summary=summary,
            new_suggestions=suggested,
        )
    # New suggestions in one executemany: most pairs a registration feed scores are
    # strangers sharing a family name and postcode (or a phone) held for review, some
    # five a message at 10,000 patients, and the ORM's flush of them one object at a
    # time cost more than scoring them. Their columns left out take their defaults,
    # as the ORM's INSERT would.
    if suggested:
        session.execute(_INSERT_LINK, suggested)


_INSERT_LINK = insert(Base.metadata.tables[IdentityLink.__tablename__])


def match_loaded(
    session: Session,
    loaded: Loaded,
    *,
    model: MatchModel,
    now: datetime,
    summary: MatchSummary,
    limit: int = MAX_CANDIDATES,
    review_only: bool = False,
) -> dict[uuid.UUID, MatchRecord]:
    """Score one patient (keys already in sync) against its candidates; returns the
    records scored (the patient's and its candidates'), as they were before any merge."""
    found = candidate_records(session, loaded.patient_id, loaded.keys, limit=limit)
    records = {pid: item.record for pid, item in found.items()}
    records[loaded.patient_id] = loaded.record
    if not found:
        return records
    pairs = [(loaded.patient_id, other) for other in found]
    score_pairs(
        session, pairs, records, model=model, now=now, summary=summary, review_only=review_only
    )
    return records


def system_policy() -> CompiledPolicy:
    """The policy in force, for the audit rows of automatic merges."""
    return policy_store(get_settings().policies_dir).current()


def match_patient(
    session: Session,
    patient_id: uuid.UUID,
    *,
    model: MatchModel,
    now: datetime,
    policy: CompiledPolicy | None = None,
    review_only: bool = False,
    created: Loaded | None = None,
) -> MatchSummary:
    """Refresh the patient's keys, score it against its candidates, write the links and
    merge what links automatically (see the module docstring).

    ``review_only``: what the patient typed themselves (portal intake) never merges on
    its own: whoever knows another person's name, birth date and phone could otherwise
    have their account folded into that person's record. Staff review every match.

    ``created``: the patient was inserted in this transaction and this is its match
    record, built from the rows written: it is neither read back nor are its (absent)
    stored keys looked up. Four to six statements per patient on a registration feed."""
    summary = MatchSummary()
    session.flush()
    loaded = created or from_patients(session, [patient_id]).get(patient_id)
    if loaded is None:  # merged, deleted or unknown: nobody's candidate any more
        drop_keys(session, [patient_id])
        return summary
    sync_loaded(session, {patient_id: loaded}, now=now, new=created is not None)
    summary.patients = 1
    scored = match_loaded(
        session, loaded, model=model, now=now, summary=summary, review_only=review_only
    )
    merge_and_look_again(session, summary, model=model, now=now, policy=policy, scored=scored)
    return summary


def merge_and_look_again(
    session: Session,
    summary: MatchSummary,
    *,
    model: MatchModel,
    now: datetime,
    policy: CompiledPolicy | None,
    scored: Mapping[uuid.UUID, MatchRecord] | None = None,
) -> None:
    """Merge the automatic links ``summary`` found, then match each survivor once more:
    it now carries the merged record's phones and names, so one more look finds a third
    record that matched only the merged one (A-B, B-C), and merges that too.

    ``scored``: the records as the first look scored them, before the merges. A
    survivor whose record the merge left as it was (the merged record's phones, e-mail
    and names were already its own) gets no second look: see :func:`nothing_new`."""
    session.flush()
    if not summary.auto_links:
        return
    policy = policy or system_policy()
    first = list(summary.linked_pairs)
    survivors = merge_linked(session, policy=policy, now=now, summary=summary, pairs=first)
    for survivor in from_patients(session, survivors).values():
        if not nothing_new(session, survivor, scored or {}):
            match_loaded(session, survivor, model=model, now=now, summary=summary)
    session.flush()
    again = summary.linked_pairs[len(first) :]
    if again:
        merge_linked(session, policy=policy, now=now, summary=summary, pairs=again)


# Open questions about a patient: a suggestion awaiting review, or a "not a duplicate"
# decision (which a change of the patient's fingerprint can bring back for review).
_OPEN_QUESTIONS = (
    select(IdentityLink.id)
    .where(
        or_(
            IdentityLink.patient_a_id == bindparam("me"),
            IdentityLink.patient_b_id == bindparam("me"),
        ),
        or_(
            and_(
                IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
                IdentityLink.status == LinkStatus.OPEN,
            ),
            and_(
                IdentityLink.kind == LinkKind.NOT_DUPLICATE,
                IdentityLink.status == LinkStatus.CONFIRMED,
            ),
        ),
    )
    .limit(1)
)


def nothing_new(
    session: Session, survivor: Loaded, scored: Mapping[uuid.UUID, MatchRecord]
) -> bool:
    """Whether a second look at ``survivor`` after its merges can be left out: the
    merges left its match record as ``scored`` had it, so the look would score the
    record it had against the candidates its unchanged keys find, as matching either
    side of each pair did before (a record whose data does not change is not matched
    again either); and it has no open question a look could settle differently (an
    open suggestion a would-be link now confirms, or a "not a duplicate" the merge's
    new fingerprint reopens). The look cost about as much as the merge itself."""
    if scored.get(survivor.patient_id) != survivor.record:
        return False
    found = session.execute(_OPEN_QUESTIONS, {"me": survivor.patient_id}).first()
    return found is None


def merge_linked(
    session: Session,
    *,
    policy: CompiledPolicy,
    now: datetime,
    summary: MatchSummary,
    pairs: Sequence[Pair] | None = None,
) -> list[uuid.UUID]:
    """Merge the automatic links one at a time, returning the survivors: the links of
    ``pairs`` (each looked up by its pair, an index lookup), or every pending one.

    One at a time because each merge can make another pending link stale (A-B merged, so
    B-C now names a merged record): every call of :func:`apply_automatic_links` asks
    afresh, where one call for many links would hit the stale one and fail.
    """
    survivors: list[uuid.UUID] = []
    for pair in dict.fromkeys(pairs) if pairs is not None else [None]:
        while merges := apply_automatic_links(
            session=session, policy=policy, now=now, limit=1, pair=pair
        ):
            summary.merges += len(merges)  # merge_patients re-indexed both records
            survivors += [m.survivor_id for m in merges]
            if pair is not None:
                break  # the pair is one record now: no link between them is pending
    return list(dict.fromkeys(survivors))
