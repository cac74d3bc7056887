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

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from backend.access.policy import CompiledPolicy
from backend.mpi.keys import PatientMatchKey, drop_keys, sync_keys
from backend.mpi.matcher import (
    MatchSummary,
    Pair,
    match_loaded,
    merge_linked,
    score_pairs,
    system_policy,
)
from backend.mpi.model import MatchModel
from backend.mpi.normalize import MAX_BLOCK, MatchRecord
from backend.mpi.records import from_patients
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
    seconds_scoring: float  # keys, candidate pairs and scores
    seconds_merging: float  # the merges the automatic links called for


def _live_ids(session: Session) -> Iterator[list[uuid.UUID]]:
    last: uuid.UUID | None = None
    while True:
        query = (
            select(Patient.id)
            .where(Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED)
            .order_by(Patient.id)
            .limit(PATIENT_BATCH)
        )
        if last is not None:
            query = query.where(Patient.id > last)
        ids = list(session.execute(query).scalars())
        if not ids:
            return
        yield ids
        last = ids[-1]


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
    for ids in _live_ids(session):
        loaded = from_patients(session, ids)
        if keep is not None:
            room = max(0, keep_at_most - len(keep))
            keep.update((pid, item.record) for pid, item in list(loaded.items())[:room])
        sync_keys(
            session,
            {pid: item.keys for pid, item in loaded.items()},
            {pid: item.fingerprint for pid, item in loaded.items()},
            now=now,
        )
        if commit:
            session.commit()
        done += len(ids)
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
    pairs = list(candidate_pairs(session))  # read fully: batches below write and commit
    summary = MatchSummary(patients=patients)
    for start in range(0, len(pairs), PAIR_BATCH):
        batch = pairs[start : start + PAIR_BATCH]
        wanted = {i for pair in batch for i in pair}
        records = {i: built[i] for i in wanted if i in built}
        fetched = from_patients(session, wanted - records.keys())
        records.update((pid, item.record) for pid, item in fetched.items())
        score_pairs(session, batch, records, model=model, now=now, summary=summary)
        session.flush()
        if commit:
            session.commit()
        if progress:
            progress("pairs", min(start + PAIR_BATCH, len(pairs)), len(pairs))
    scored = time.perf_counter()
    if summary.auto_links and not dry_run:  # a dry run counts the links, merges nothing
        policy = policy or system_policy()
        first = list(summary.linked_pairs)
        survivors = merge_linked(session, policy=policy, now=now, summary=summary, pairs=first)
        session.commit()
        for survivor in from_patients(session, survivors).values():
            match_loaded(session, survivor, model=model, now=now, summary=summary)
        session.flush()
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
        seconds_scoring=scored - started,
        seconds_merging=time.perf_counter() - scored,
    )
