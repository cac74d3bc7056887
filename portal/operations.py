"""Run a named GraphQL operation in-process as the signed-in patient.

The portal reads the record the way any API client does: the same schema, the same
services, the same policy and the same audit events (the schema's ``AuditTrail``
extension writes them before the result comes back). Only the HTTP hop is skipped.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

from backend.access.policy import policy_store
from backend.access.principal import Principal
from backend.api.context import ApiContext
from backend.api.schema import Schema, build_schema
from backend.common.mixins import utcnow
from backend.settings import Settings

logger = logging.getLogger(__name__)


class OperationFailed(RuntimeError):
    """The operation returned errors; ``codes`` are their ``extensions.code`` values."""

    def __init__(self, name: str, codes: list[str]) -> None:
        super().__init__(f"{name} failed: {', '.join(codes) or 'no code'}")
        self.codes = codes


@cache
def _schema(production: bool) -> Schema:
    return build_schema(production=production)


@cache
def _document(directory: Path, name: str) -> str:
    path = directory / f"{name}.graphql"
    return path.read_text(encoding="utf-8")


def operations_dir(settings: Settings) -> Path:
    return settings.home / "graphql" / "operations"


async def run_operation(
    request: Request,
    principal: Principal,
    name: str,
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``data`` of operation ``name`` (a file in graphql/operations/); raises
    :class:`OperationFailed` when the result carries errors (NOT_FOUND included)."""
    settings: Settings = request.app.state.settings
    context = ApiContext(
        request=request,
        principal=principal,
        policy=policy_store(settings.policies_dir).current(),
        now=utcnow(),
        request_id=uuid.uuid4().hex,
    )
    result = await _schema(settings.is_production).execute(
        _document(operations_dir(settings), name),
        variable_values=variables or {},
        context_value=context,
        operation_name=name,
    )
    if result.errors:
        codes = [str((e.extensions or {}).get("code", "")) for e in result.errors]
        logger.info("portal operation %s answered %s", name, codes)
        raise OperationFailed(name, codes)
    return result.data or {}
