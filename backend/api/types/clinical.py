"""Clinical types: thin copies of :mod:`backend.clinical.records` views."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from backend.api.types.common import WithheldField


@strawberry.type(description="A diagnosis or problem (FHIR Condition).")
class Condition:
    id: strawberry.ID
    code_system: str | None
    code_code: str | None
    code_display: str | None
    clinical_status: str | None
    verification_status: str | None
    category: str | None
    severity: str | None
    onset_date: date | None
    abatement_date: date | None
    effective_at: datetime | None
    note: str | None
    version: int | None
    withheld: list[WithheldField]
