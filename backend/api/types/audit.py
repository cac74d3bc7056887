"""The audit family: the trail for auditors, break-glass for clinicians, grant review.

The root fields live here as :class:`AuditQueries` and :class:`BreakGlassMutations`,
which ``backend.api.schema`` composes into ``Query`` and ``Mutation``; every decision
(who may break the glass, who may read the trail) is made by the services in
:mod:`backend.access`, whose refusals :meth:`ApiContext.run` turns into error codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from backend.access.audit_queries import (
    DEFAULT_PAGE_SIZE,
    AuditEventPage,
    list_audit_events,
    review_grant,
    review_list,
)
from backend.access.breakglass import grant_break_glass
from backend.api.context import ApiContext
from backend.api.errors import bad_input
from backend.api.types.common import PageInfo, WithheldField, from_view

F = TypeVar("F", bound=Callable[..., Any])


@strawberry.type(description="One audited action: names and ids, never patient data values.")
class AuditEvent:
    id: strawberry.ID
    occurred_at: datetime | None
    actor_id: strawberry.ID | None
    actor_kind: str | None
    actor_username: str | None
    roles: list[str] | None
    patient_id: strawberry.ID | None
    action: str | None
    outcome: str | None
    record_types: list[str] | None
    fields: list[str] | None
    masked_fields: list[str] | None = strawberry.field(
        description="Type.field:rule for every field withheld from the actor."
    )
    purpose: str | None
    request_id: str | None
    client: str | None
    address: str | None
    policy_version: str | None
    break_glass: bool | None
    break_glass_grant_id: strawberry.ID | None
    hash: str | None
    withheld: list[WithheldField]


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type(description="A page of audit events, newest first (Relay connection).")
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: AuditEventPage) -> AuditEventConnection:
        return cls(
            edges=[
                AuditEventEdge(cursor=c, node=from_view(AuditEvent, v))
                for v, c in zip(page.events, page.cursors, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.type(description="A break-glass grant, as shown to reviewers.")
class BreakGlassGrant:
    id: strawberry.ID
    staff_user_id: strawberry.ID | None
    patient_id: strawberry.ID | None
    reason: str | None
    granted_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    reviewed_by_id: strawberry.ID | None
    reviewed_at: datetime | None
    review_note: str | None
    withheld: list[WithheldField]


@strawberry.type(description="The caller's own new grant: which patient, until when.")
class BreakGlassAccess:
    grant_id: strawberry.ID
    patient_id: strawberry.ID
    expires_at: datetime


def _uuid(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise bad_input(what, "is not an id") from None


def _field(description: str) -> Callable[[F], F]:
    # strawberry.field(description=...) without a resolver is typed Any; the decorator
    # returns a field object that strawberry.type turns back into the resolver's type.
    return cast("Callable[[F], F]", strawberry.field(description=description))


def _mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


@strawberry.type
class AuditQueries:
    @_field("The audit trail, newest first; auditors only.")
    async def audit_events(
        self,
        info: Info[ApiContext, None],
        patient_id: strawberry.ID | None = None,
        actor: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> AuditEventConnection:
        ctx = info.context
        principal = ctx.caller
        patient = None if patient_id is None else _uuid(patient_id, "patientId")
        page = await ctx.run(
            lambda s: list_audit_events(
                session=s,
                principal=principal,
                policy=ctx.policy,
                patient_id=patient,
                actor=actor,
                start=from_,
                end=to,
                first=first,
                after=after,
                log=ctx.reads,
                now=ctx.now,
            )
        )
        return AuditEventConnection.from_page(page)

    @_field("Break-glass grants awaiting review (or all), oldest first.")
    async def break_glass_review(
        self, info: Info[ApiContext, None], unreviewed_only: bool = True, first: int = 100
    ) -> list[BreakGlassGrant]:
        ctx = info.context
        principal = ctx.caller
        views = await ctx.run(
            lambda s: review_list(
                session=s,
                principal=principal,
                policy=ctx.policy,
                unreviewed_only=unreviewed_only,
                first=first,
                log=ctx.reads,
                now=ctx.now,
            )
        )
        return [from_view(BreakGlassGrant, v) for v in views]


@strawberry.type
class BreakGlassMutations:
    @_mutation(
        "Emergency access to a patient outside your care teams for 60 minutes; "
        "audited, flagged on every audit row it touches, and reviewed."
    )
    async def break_glass(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID, reason: str
    ) -> BreakGlassAccess:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        grant = await ctx.change(
            principal,
            lambda c: grant_break_glass(
                **c,
                patient_id=patient,
                reason=reason,
            ),
        )
        return BreakGlassAccess(
            grant_id=strawberry.ID(str(grant.id)),
            patient_id=strawberry.ID(str(grant.patient_id)),
            expires_at=grant.expires_at,
        )

    @_mutation("Record that a break-glass grant was reviewed.")
    async def mark_break_glass_reviewed(
        self, info: Info[ApiContext, None], grant_id: strawberry.ID, note: str | None = None
    ) -> BreakGlassGrant:
        ctx = info.context
        principal = ctx.caller
        grant_uuid = _uuid(grant_id, "grantId")
        view = await ctx.change(
            principal,
            lambda c: review_grant(
                **c,
                grant_id=grant_uuid,
                note=note,
            ),
        )
        return from_view(BreakGlassGrant, view)
