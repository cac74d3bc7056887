"""Match many patients in one pass: what a batch of HL7 messages (or an import file)
created or changed, after the batch is applied and before it commits.

:func:`~backend.mpi.matcher.match_patient` per patient costs a read, a key write, a
candidate query and a read of the candidates each; here each of those is one statement
(per chunk) for the whole batch, and a pair found from both sides is scored once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.mpi.keys import Key, PatientMatchKey, drop_keys
from backend.mpi.matcher import (
    MAX_CANDIDATES,
    MatchSummary,
    Pair,
    key_holders,
    key_parameters,
    match_patient,
    merge_and_look_again,
    pair_of,
    score_pairs,
)
from backend.mpi.model import MatchModel
from backend.mpi.normalize import MAX_BLOCK
from backend.mpi.records import Loaded, from_patients, sync_loaded

KEY_CHUNK = 400
"""(kind, value) pairs per look-up of :func:`shared_keys` (two parameters each, three on
SQLite: :func:`~backend.mpi.matcher.key_parameters`)."""


def shared_keys(
    session: Session, keys: Mapping[uuid.UUID, frozenset[Key]]
) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
    """For each patient, the others sharing selective keys with it (held by at most
    ``MAX_BLOCK`` patients) and how many: one look-up for many patients' keys."""
    wanted = sorted({k for found in keys.values() for k in found})
    holders: dict[Key, list[uuid.UUID]] = {}
    for start in range(0, len(wanted), KEY_CHUNK):
        narrowed, params = key_parameters(session, wanted[start : start + KEY_CHUNK])
        for pid, kind, value in session.execute(_holders_query(narrowed), params):
            holders.setdefault((kind, value), []).append(pid)
    shared: dict[uuid.UUID, dict[uuid.UUID, int]] = {}
    for patient_id, own in keys.items():
        counts: dict[uuid.UUID, int] = {}
        for key in own:
            for other in holders.get(key, ()):
                if other != patient_id:
                    counts[other] = counts.get(other, 0) + 1
        shared[patient_id] = counts
    return shared


@functools.cache
def _holders_query(narrowed: bool) -> Any:
    """Holders of the ``wanted`` keys, a key held by more than MAX_BLOCK patients left
    out (as the candidate query leaves it out) without sending its holders here."""
    hits = key_holders(PatientMatchKey.kind, PatientMatchKey.value, narrowed=narrowed)
    return select(hits.c.patient_id, hits.c.kind, hits.c.value).where(hits.c.holders <= MAX_BLOCK)


def match_patients(
    session: Session,
    patient_ids: Iterable[uuid.UUID],
    *,
    model: MatchModel,
    now: datetime,
    policy: CompiledPolicy | None = None,
    review_only: bool = False,
    created: Mapping[uuid.UUID, Loaded] | None = None,
    limit: int = MAX_CANDIDATES,
) -> MatchSummary:
    """:func:`match_patient` for many patients in one pass: one read of those not in
    ``created``, one key write, one candidate look-up for all their keys, one read of
    the candidates, and each pair scored once (two patients of the batch registering
    the same person are one pair, linked as if they had come one after the other).

    Every key is written before any look-up, so patients of the batch are each other's
    candidates; merges follow as in :func:`match_patient`."""
    ids = list(dict.fromkeys(patient_ids))
    created = {i: created[i] for i in ids if created and i in created}
    if len(ids) == 1:
        return match_patient(
            session,
            ids[0],
            model=model,
            now=now,
            policy=policy,
            review_only=review_only,
            created=created.get(ids[0]),
        )
    summary = MatchSummary()
    if not ids:
        return summary
    session.flush()
    loaded = dict(created)
    loaded.update(from_patients(session, [i for i in ids if i not in created]))
    gone = [i for i in ids if i not in loaded]
    if gone:  # merged, deleted or unknown: nobody's candidate any more
        drop_keys(session, gone)
    for new in (True, False):
        part = {i: item for i, item in loaded.items() if (i in created) is new}
        if part:
            sync_loaded(session, part, now=now, new=new)
    summary.patients = len(loaded)
    shared = shared_keys(session, {i: item.keys for i, item in loaded.items()})
    # Each patient's best ``limit`` by keys shared, as the single look-up ranks them,
    # before anything is read: a merged or deleted patient has no keys left to share.
    best = {
        patient_id: sorted(counts, key=lambda o: (-counts[o], o))[:limit]
        for patient_id, counts in shared.items()
    }
    others = {o for found in best.values() for o in found if o not in loaded}
    records = {i: item.record for i, item in loaded.items()}
    records.update({i: item.record for i, item in from_patients(session, others).items()})
    pairs: dict[Pair, None] = {}
    for patient_id, found in best.items():
        for other in found:
            if other in records:
                pairs[pair_of(patient_id, other)] = None
    score_pairs(
        session,
        list(pairs),
        records,
        model=model,
        now=now,
        summary=summary,
        review_only=review_only,
    )
    merge_and_look_again(session, summary, model=model, now=now, policy=policy, scored=records)
    return summary
