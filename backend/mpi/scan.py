"""``patient360 mpi scan``: match every patient against every other, in batches.

Three passes, each in bulk: rebuild every live patient's blocking keys (a batch of
patients per round trip), list candidate pairs from the key table in SQL (a self-join on
``(kind, value)``; keys shared by more than :data:`MAX_BLOCK` patients are skipped as
not selective), then score the pairs a batch at a time and merge the automatic links.
Writes are committed per batch unless it is a dry run, which rolls everything back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from backend.access.policy import CompiledPolicy
from backend.identity.merge import apply_automatic_links
from backend.identity.models import IdentityLink, LinkKind, LinkStatus
from backend.mpi.keys import CHUNK, PatientMatchKey, drop_keys
from backend.mpi.matcher import (
    MatchSummary,
    Pair,
    merge_linked,
    pair_of,
    score_pairs,
    system_policy,
)
from backend.mpi.model import MatchModel
from backend.mpi.normalize import MAX_BLOCK, MatchRecord
from backend.mpi.records import PATIENT_COLUMNS, from_patients, loaded_from_rows, sync_loaded
from backend.mpi.score import Outcome, score_pair
from backend.patients.models import Patient, PatientStatus

PATIENT_BATCH = 2000
PAIR_BATCH = 2000
# Match records kept in memory between the key pass and scoring (about 1 KB each); a
# larger index loads the rest per batch of pairs.
RECORD_CACHE = 200_000

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class ScanResult:
    patients: int
    pairs: int
    summary: MatchSummary
    dry_run: bool
    seconds_keys: float  # reading every patient, building and writing their keys
    seconds_pairs: float  # the candidate-pair query
    seconds_scoring: float  # scores and the links they call for
    seconds_merging: float  # the merges the automatic links called for


def _live_batches(session: Session) -> Iterator[list[Any]]:
    """Live patients' matching columns, :data:`PATIENT_BATCH` rows at a time, by id."""
    last: uuid.UUID | None = None
    while True:
        query = (
            select(*PATIENT_COLUMNS)
            .where(Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED)
            .order_by(Patient.id)
            .limit(PATIENT_BATCH)
        )
        if last is not None:
            query = query.where(Patient.id > last)
        rows = list(session.execute(query))
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _count_live(session: Session) -> int:
    return int(
        session.execute(
            select(func.count(Patient.id)).where(
                Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED
            )
        ).scalar()
        or 0
    )


def rebuild_keys(
    session: Session,
    *,
    now: datetime,
    commit: bool,
    progress: Progress | None = None,
    keep: dict[uuid.UUID, MatchRecord] | None = None,
    keep_at_most: int = RECORD_CACHE,
) -> int:
    """Every live patient's keys in sync; merged and deleted patients keep none. The
    match records built on the way go into ``keep``, up to ``keep_at_most`` of them."""
    total = _count_live(session)
    done = 0
    stale = session.execute(
        select(PatientMatchKey.patient_id)
        .join(Patient, Patient.id == PatientMatchKey.patient_id)
        .where((Patient.deleted_at.is_not(None)) | (Patient.status == PatientStatus.MERGED))
        .distinct()
    ).scalars()
    drop_keys(session, list(stale))
    for rows in _live_batches(session):
        # The batch is every live patient from its first id to its last: children and
        # stored keys are read by that range, one query each.
        between = (rows[0].id, rows[-1].id)
        loaded = loaded_from_rows(session, rows, between=between)
        if keep is not None:
            room = max(0, keep_at_most - len(keep))
            keep.update((pid, item.record) for pid, item in list(loaded.items())[:room])
        sync_loaded(session, loaded, now=now, between=between)
        if commit:
            session.commit()
        done += len(rows)
        if progress:
            progress("keys", done, total)
    return total


def candidate_pairs(session: Session) -> Iterator[Pair]:
    """Distinct pairs of live patients sharing a selective key, smaller id first."""
    counts = (
        select(PatientMatchKey.kind, PatientMatchKey.value)
        .group_by(PatientMatchKey.kind, PatientMatchKey.value)
        .having(func.count() > 1, func.count() <= MAX_BLOCK)
        .subquery()
    )
    a, b = aliased(PatientMatchKey), aliased(PatientMatchKey)
    query = (
        select(a.patient_id, b.patient_id)
        .join(counts, (counts.c.kind == a.kind) & (counts.c.value == a.value))
        .join(b, (b.kind == a.kind) & (b.value == a.value) & (b.patient_id > a.patient_id))
        .distinct()
        .order_by(a.patient_id, b.patient_id)
    )
    for row in session.execute(query.execution_options(yield_per=PAIR_BATCH)):
        yield row[0], row[1]


def survivor_pairs(session: Session, patient_ids: list[uuid.UUID]) -> set[Pair]:
    """The candidate pairs (as :func:`candidate_pairs` finds them) of these patients."""
    found: set[Pair] = set()
    a, b = aliased(PatientMatchKey), aliased(PatientMatchKey)
    for start in range(0, len(patient_ids), CHUNK):
        holders = func.count().over(partition_by=(a.patient_id, a.kind, a.value))
        hits = (
            select(a.patient_id.label("one"), b.patient_id.label("other"), holders.label("n"))
            .join(b, (b.kind == a.kind) & (b.value == a.value))
            .where(a.patient_id.in_(patient_ids[start : start + CHUNK]))
            .subquery()
        )
        rows = session.execute(
            select(hits.c.one, hits.c.other)
            .where(hits.c.n <= MAX_BLOCK, hits.c.one != hits.c.other)
            .distinct()
        )
        found.update(pair_of(x, y) for x, y in rows.tuples())
    return found


def _score(
    session: Session,
    pairs: list[Pair],
    built: dict[uuid.UUID, MatchRecord],
    *,
    model: MatchModel,
    now: datetime,
    summary: MatchSummary,
    commit: bool,
    progress: Progress | None = None,
) -> None:
    """Score the pairs a batch at a time, records from ``built`` or loaded."""
    # Most candidate pairs are strangers with no link between them: their score writes
    # nothing, so only the pairs that score above "separate" or already have a link (to
    # refresh, withdraw or respect) go through the matcher's ORM path; the rest are
    # scored here and counted.
    linked = _linked_pairs(session)
    for start in range(0, len(pairs), PAIR_BATCH):
        batch = pairs[start : start + PAIR_BATCH]
        wanted = {i for pair in batch for i in pair}
        records = {i: built[i] for i in wanted if i in built}
        fetched = from_patients(session, wanted - records.keys())
        records.update((pid, item.record) for pid, item in fetched.items())
        present = [p for p in batch if p[0] in records and p[1] in records]
        recorded = [
            p
            for p in present
            if p in linked
            or score_pair(records[p[0]], records[p[1]], model).outcome is not Outcome.SEPARATE
        ]
        summary.pairs_compared += len(present) - len(recorded)
        if recorded:
            score_pairs(session, recorded, records, model=model, now=now, summary=summary)
            session.flush()
            if commit:
                session.commit()
        if progress:
            progress("pairs", min(start + PAIR_BATCH, len(pairs)), len(pairs))


def _linked_pairs(session: Session) -> set[Pair]:
    """Pairs with a link the matcher reads (open or confirmed suggestions, decisions)."""
    rows = session.execute(
        select(IdentityLink.patient_a_id, IdentityLink.patient_b_id).where(
            IdentityLink.kind.in_([LinkKind.POSSIBLE_DUPLICATE, LinkKind.NOT_DUPLICATE]),
            IdentityLink.status.in_([LinkStatus.OPEN, LinkStatus.CONFIRMED]),
        )
    )
    return {pair_of(a, b) for a, b in rows.tuples()}


def _merge_pairs(
    session: Session, pairs: list[Pair], *, policy: CompiledPolicy, now: datetime
) -> list[uuid.UUID]:
    """Merge each pair's automatic link, returning the survivor of each merge. One call
    per pair: a pair holds at most one confirmed automatic link, so asking again after
    its merge (as ``merge_linked`` does for links in general) would find nothing."""
    survivors: list[uuid.UUID] = []
    for pair in dict.fromkeys(pairs):
        merges = apply_automatic_links(session=session, policy=policy, now=now, limit=1, pair=pair)
        survivors += [m.survivor_id for m in merges]
    return survivors


def scan(
    session: Session,
    *,
    model: MatchModel,
    now: datetime,
    dry_run: bool = False,
    policy: CompiledPolicy | None = None,
    progress: Progress | None = None,
    record_cache: int = RECORD_CACHE,
) -> ScanResult:
    """Rebuild the keys, score every candidate pair, merge the automatic links."""
    commit = not dry_run
    started = time.perf_counter()
    # The records the key pass builds are scored from memory: loading them again for
    # every batch of pairs (each patient is in several) and re-parsing their phone
    # numbers was most of the scoring time. Nothing merges before scoring ends.
    built: dict[uuid.UUID, MatchRecord] = {}
    patients = rebuild_keys(
        session, now=now, commit=commit, progress=progress, keep=built, keep_at_most=record_cache
    )
    session.flush()
    keyed = time.perf_counter()
    pairs = list(candidate_pairs(session))  # read fully: batches below write and commit
    paired = time.perf_counter()
    summary = MatchSummary(patients=patients)
    _score(session, pairs, built, model=model, now=now, summary=summary, commit=commit,
           progress=progress)  # fmt: skip
    scored = time.perf_counter()
    if summary.auto_links and not dry_run:  # a dry run counts the links, merges nothing
        policy = policy or system_policy()
        survivors = _merge_pairs(session, summary.linked_pairs, policy=policy, now=now)
        summary.merges += len(survivors)
        session.commit()
        # The survivor now carries the merged record's phones and names: one more look
        # finds a third record that matched only the merged one (A-B, B-C). One query
        # per chunk of survivors, not a candidate lookup each.
        changed = set(survivors) | {i for pair in summary.linked_pairs for i in pair}
        for pid in changed:
            built.pop(pid, None)
        again = sorted(survivor_pairs(session, sorted(set(survivors))))
        _score(session, again, built, model=model, now=now, summary=summary, commit=True)
        # Without pairs: the survivors' new links, and any an earlier run left unmerged.
        merge_linked(session, policy=policy, now=now, summary=summary)
        session.commit()
    if dry_run:
        session.rollback()
    return ScanResult(
        patients=patients,
        pairs=len(pairs),
        summary=summary,
        dry_run=dry_run,
        seconds_keys=keyed - started,
        seconds_pairs=paired - keyed,
        seconds_scoring=scored - paired,
        seconds_merging=time.perf_counter() - scored,
    )
