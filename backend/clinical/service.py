"""Clinical use cases for every transport. Reads go through
:func:`backend.access.listing.list_patient_records` (scope, Part 2 and psychotherapy
rules, field masks) and are noted for the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.clinical.models import Condition
from backend.clinical.records import ConditionView


def list_conditions(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[ConditionView]] | None:
    """Each patient's conditions, newest first; None when diagnoses are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Condition,
        view=ConditionView,
        patient_ids=patient_ids,
        order_by=(Condition.effective_at.desc(), Condition.id),
        log=log,
        now=now,
    )
