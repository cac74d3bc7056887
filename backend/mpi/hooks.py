"""The one call every writer of patient demographics makes at the end of its transaction.

FHIR import, HL7 v2 ADT messages and the CRM CSV import collect the ids of patients they
created or changed and hand them here before committing, so matching is part of the
same all-or-nothing write: a failed import leaves neither patients nor suggestions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.common.mixins import utcnow
from backend.mpi.batch import match_patients
from backend.mpi.matcher import MatchSummary, match_patient
from backend.mpi.model import MatchModel
from backend.mpi.model_file import current_model
from backend.mpi.records import Loaded


def patients_changed(
    session: Session,
    patient_ids: Iterable[uuid.UUID],
    *,
    now: datetime | None = None,
    model: MatchModel | None = None,
    policy: CompiledPolicy | None = None,
    review_only: bool = False,
    created: Mapping[uuid.UUID, Loaded] | None = None,
    together: bool = False,
) -> MatchSummary:
    """Match each created or changed patient (each once, in the order given);
    ``review_only`` for data the patient reported (see :func:`match_patient`).

    ``created``: match records of patients the caller inserted in this transaction,
    built from the rows it wrote, which must be all the patient has (see
    :func:`match_patient`'s ``created``).

    ``together``: in one pass (:func:`~backend.mpi.batch.match_patients`: one candidate
    look-up and one key write for all of them), for a batch of messages applied in one
    transaction."""
    created = created or {}
    now = now or utcnow()
    model = model or current_model()
    if together:
        return match_patients(
            session,
            patient_ids,
            model=model,
            now=now,
            policy=policy,
            review_only=review_only,
            created=created,
        )
    summary = MatchSummary()
    for patient_id in dict.fromkeys(patient_ids):
        summary.add(
            match_patient(
                session,
                patient_id,
                model=model,
                now=now,
                policy=policy,
                review_only=review_only,
                created=created.get(patient_id),
            )
        )
    return summary
