"""Clinical records handed to transports: frozen views, already masked.

Field names are the ``condition`` table's columns (the policy's ``Condition.field``
names); every field but ``id`` is optional because any of them may be withheld.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class ConditionView:
    id: uuid.UUID
    code_system: str | None = None
    code_code: str | None = None
    code_display: str | None = None
    clinical_status: str | None = None
    verification_status: str | None = None
    category: str | None = None
    severity: str | None = None
    onset_date: date | None = None
    abatement_date: date | None = None
    effective_at: datetime | None = None
    note: str | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()
