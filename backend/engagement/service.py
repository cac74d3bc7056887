"""Engagement use cases for every transport (reads through the shared access path)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.listing import list_patient_records
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.engagement.consent import Consent
from backend.engagement.models import Communication
from backend.engagement.records import CommunicationView, ConsentView


def list_communications(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[CommunicationView]] | None:
    """Each patient's messages and calls, newest first; None when withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Communication,
        view=CommunicationView,
        patient_ids=patient_ids,
        order_by=(Communication.effective_at.desc(), Communication.id),
        log=log,
        now=now,
    )


def list_consents(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_ids: Iterable[uuid.UUID],
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> dict[uuid.UUID, list[ConsentView]] | None:
    """Each patient's consents, newest first; None when consents are withheld."""
    return list_patient_records(
        session=session,
        principal=principal,
        policy=policy,
        model=Consent,
        view=ConsentView,
        patient_ids=patient_ids,
        order_by=(Consent.effective_at.desc(), Consent.id),
        log=log,
        now=now,
    )
