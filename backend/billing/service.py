"""Billing use cases for every transport (reads through the shared access path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.billing.models import Coverage
from backend.billing.records import CoverageView


def list_coverage(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[CoverageView]] | None:
    """Each patient's coverage, primary first; None when coverage is withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Coverage,
        view=CoverageView,
        patient_ids=patient_ids,
        order_by=(Coverage.coverage_order, Coverage.period_start.desc(), Coverage.id),
        log=log,
        now=now,
    )
