"""Form use cases for every transport: a patient's responses (through the shared access
path, declared in :mod:`backend.record.categories`) and the definitions they answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.masking import mask_plan
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.forms.models import FormDefinition
from backend.forms.records import FormDefinitionView
from backend.patients.records import build_view, view_fields
from backend.record.categories import FORM_RESPONSES

list_form_responses = FORM_RESPONSES.list  # newest first; None when forms are withheld


def get_form_definitions(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    definition_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, FormDefinitionView]:
    """Definitions by id in one query, masked (reference data: no patient, no audit)."""
    plan = mask_plan(policy=policy, principal=principal, record_type="FormDefinition")
    ids = sorted(set(definition_ids))
    if plan.sees_nothing or not ids:
        return {}
    table = FormDefinition.__table__
    rows = session.execute(
        select(*(table.c[n] for n in view_fields(FormDefinitionView))).where(
            FormDefinition.id.in_(ids), FormDefinition.deleted_at.is_(None)
        )
    ).mappings()
    return {
        row["id"]: build_view(FormDefinitionView, plan.mask(dict(row)), id=row["id"])
        for row in rows
    }
