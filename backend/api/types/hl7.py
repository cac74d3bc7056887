"""The HL7 v2 message log and error queue: ``hl7Messages`` and ``retryHl7Message``.

Composed into ``Query`` / ``Mutation`` as :class:`Hl7Queries` / :class:`Hl7Mutations`;
the capability check is the service's (``backend.interop.hl7v2.service``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.errors import bad_input
from backend.api.types.common import PageInfo, WithheldField, from_view
from backend.interop.hl7v2.records import Hl7MessagePage
from backend.interop.hl7v2.service import (
    DEFAULT_PAGE_SIZE,
    list_messages,
    retry_message,
)

F = TypeVar("F", bound=Callable[..., Any])


@strawberry.type(description="One inbound HL7 v2 message: ids, type, state, error; no content.")
class Hl7Message:
    id: strawberry.ID
    source: str
    control_id: str
    message_type: str
    version: str
    transport: str
    state: str = strawberry.field(description="received, processed, failed or rejected.")
    ack_code: str | None = strawberry.field(description="AA, AE or AR: what we answered.")
    error_code: str | None
    error_detail: str | None = strawberry.field(
        description="Where and what was wrong (segment and field), never the values."
    )
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    withheld: list[WithheldField]


@strawberry.type
class Hl7MessageEdge:
    cursor: str
    node: Hl7Message


@strawberry.type(description="A page of HL7 messages, oldest first (Relay connection).")
class Hl7MessageConnection:
    edges: list[Hl7MessageEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Hl7MessagePage, *, after: str | None) -> Hl7MessageConnection:
        return cls(
            edges=[
                Hl7MessageEdge(cursor=c, node=from_view(Hl7Message, v))
                for v, c in zip(page.messages, page.cursors, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=after is not None,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


def _field(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.field(description=description))


def _mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


@strawberry.type
class Hl7Queries:
    @_field("HL7 v2 messages, oldest first; state 'failed' is the error queue.")
    async def hl7_messages(
        self,
        info: Info[ApiContext, None],
        state: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> Hl7MessageConnection:
        ctx = info.context
        principal = ctx.caller
        page = await ctx.run(
            lambda s: list_messages(
                session=s,
                principal=principal,
                policy=ctx.policy,
                state=state,
                first=first,
                after=after,
            )
        )
        return Hl7MessageConnection.from_page(page, after=after)


@strawberry.type
class Hl7Mutations:
    @_mutation("Process a failed HL7 message again (after the cause was fixed).")
    async def retry_hl7_message(
        self, info: Info[ApiContext, None], id: strawberry.ID
    ) -> Hl7Message:
        ctx = info.context
        principal = ctx.caller
        try:
            message_id = uuid.UUID(id)
        except ValueError:
            raise bad_input("id", "id is not a message id") from None
        secret = ctx.request.app.state.settings.secret()
        view = await ctx.change(
            principal,
            lambda c: retry_message(
                **c,
                message_id=message_id,
                secret_key=secret,
            ),
        )
        return from_view(Hl7Message, view)
