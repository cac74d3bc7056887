"""Refused changes, read from a mutation's result for the audit trail.

A mutation refused by the policy (FORBIDDEN) or by scope (NOT_FOUND) is audited like a
read: who asked, for what, and what they lacked; never ids or input values. The
schema's audit extension (:class:`backend.api.schema.AuditTrail`) writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.access.models import AuditAction, AuditOutcome
from backend.api.errors import DomainGraphQLError, ErrorCode
from backend.common.errors import Forbidden
from graphql import GraphQLError

# A refused change is audited as this action; the mutation's name says what was asked.
_REFUSED_ACTIONS = {"breakGlass": AuditAction.BREAK_GLASS}
_UPDATES = ("update", "mark", "merge", "unmerge", "retry")
_REFUSALS = {
    ErrorCode.FORBIDDEN.value: AuditOutcome.DENIED,
    ErrorCode.NOT_FOUND.value: AuditOutcome.NOT_FOUND,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    operation: str  # Mutation.<field>
    action: AuditAction
    outcome: AuditOutcome
    refused: tuple[str, ...]


def refused_writes(result: object) -> list[Refusal]:
    """The mutations of a result that were refused by the policy (FORBIDDEN) or by
    scope (NOT_FOUND)."""
    found = []
    errors: list[GraphQLError] = getattr(result, "errors", None) or []
    for error in errors:
        outcome = _REFUSALS.get(str((error.extensions or {}).get("code")))
        if outcome is None or not error.path or len(error.path) != 1:
            continue
        name = str(error.path[0])
        action = _REFUSED_ACTIONS.get(name) or (
            AuditAction.UPDATE if name.startswith(_UPDATES) else AuditAction.CREATE
        )
        original = error.original_error
        domain = original.domain if isinstance(original, DomainGraphQLError) else None
        refused = domain.refused if isinstance(domain, Forbidden) else ()
        found.append(Refusal(f"Mutation.{name}", action, outcome, refused))
    return found
