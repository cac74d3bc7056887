"""Refused changes for the audit trail, whichever transport was asked.

A change refused by the policy (FORBIDDEN) or by scope (NOT_FOUND) is audited like a
read: who asked, for what, and what they lacked; never ids or input values. Every
transport records it the same way (:func:`backend.access.writes.audit_refusal` builds
the row):

* GraphQL mutations: read from the result (:func:`refused_writes`) and written by the
  schema's audit extension (:class:`backend.api.schema.AuditTrail`) with the request's
  reads;
* the other transports (``POST /fhir``, portal forms) call :func:`audit_refused` when
  they refuse, after the refused work's transaction has rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditOutcome
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import audit_refusal
from backend.api.audit_writer import write_audit
from backend.api.errors import DomainGraphQLError, ErrorCode
from backend.common.errors import Forbidden
from backend.common.mixins import utcnow
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
    operation: str  # what was asked: Mutation.<field>, Fhir.importBundle, Portal.<form>
    action: AuditAction
    outcome: AuditOutcome
    refused: tuple[str, ...]  # what the caller lacked: capability.*, Type.field, token_scope:*

    @classmethod
    def denied(cls, operation: str, action: AuditAction, error: Forbidden) -> Refusal:
        """The policy refused: ``error`` names what the caller lacked."""
        return cls(operation, action, AuditOutcome.DENIED, error.refused)

    @classmethod
    def not_found(cls, operation: str, action: AuditAction) -> Refusal:
        """Scope refused: the record is missing or not the caller's (not told apart)."""
        return cls(operation, action, AuditOutcome.NOT_FOUND, ())


async def audit_refused(
    state: Any,
    *,
    principal: Principal,
    policy: CompiledPolicy,
    refusal: Refusal,
    client: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> None:
    """Write one refused change to the trail (``state`` is ``app.state``), in a
    transaction of its own: the refused work's rolled back, or never began. Raises if
    the event cannot be written; the caller answers 500 rather than refuse unaudited."""
    when = now or utcnow()

    def work(session: Session) -> None:
        record_refusal(
            session,
            principal=principal,
            policy=policy,
            refusal=refusal,
            client=client,
            request_id=request_id,
            now=when,
        )

    await write_audit(state, work)


def record_refusal(
    session: Session,
    *,
    principal: Principal,
    policy: CompiledPolicy,
    refusal: Refusal,
    client: str | None,
    request_id: str | None,
    now: datetime,
) -> None:
    """The audit event of one refused change, in ``session``'s transaction (which must
    not be the refused work's: that one rolls back). ``client`` None: the API's own."""
    audit_refusal(
        session=session,
        principal=principal,
        policy=policy,
        action=refusal.action,
        outcome=refusal.outcome,
        operation=refusal.operation,
        refused=refusal.refused,
        request_id=request_id,
        now=now,
        client=client,
    )


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
