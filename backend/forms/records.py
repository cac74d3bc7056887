"""Form responses handed to transports: frozen views, already masked.

``answers`` maps a question's ``linkId`` to its answer (see :mod:`backend.forms.models`);
``changes`` is what a submitted intake changed in the record (before -> after), masked
like every other field of the response.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class FormResponseView:
    id: uuid.UUID
    definition_id: uuid.UUID | None = None
    status: str | None = None
    answers: Any = None
    current_step: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    submitted_by: str | None = None
    submitted_by_staff_id: uuid.UUID | None = None
    proxy_name: str | None = None
    encounter_id: uuid.UUID | None = None
    scores: Any = None
    changes: Any = None
    reviewed_at: datetime | None = None
    reviewed_by_id: uuid.UUID | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class FormDefinitionView:
    """Which form (and which version of it) a response answers; reference data."""

    id: uuid.UUID
    key: str | None = None
    form_version: int | None = None
    title: str | None = None
    status: str | None = None
    withheld: tuple[Withheld, ...] = ()
