"""The patient's timeline: a Relay connection of entries across every readable category.

Thin: arguments are checked and the page is built by :mod:`backend.record.timeline`;
this module only turns its views into types and its input errors into BAD_USER_INPUT.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from backend.access.masking import Withheld
from backend.api.context import ApiContext
from backend.api.types.common import PageInfo, WithheldField, withheld_fields
from backend.record.categories import RecordKind
from backend.record.timeline import (
    DEFAULT_TIMELINE_PAGE,
    TimelinePage,
    patient_timeline,
)

TimelineKind = strawberry.enum(
    RecordKind,
    name="TimelineKind",
    description="A category of the record, as it appears on the timeline (every one but "
    "EMERGENCY_CONTACTS, a fact about the patient rather than an event: asking for it is "
    "BAD_USER_INPUT).",
)


@strawberry.type(description="One record on the timeline, told only with fields you may read.")
class TimelineEntry:
    kind: TimelineKind  # type: ignore[valid-type]
    at: datetime = strawberry.field(description="When it happened (else when it was recorded).")
    record_id: strawberry.ID
    title: str
    summary: str | None


@strawberry.type
class TimelineEdge:
    cursor: str
    node: TimelineEntry


@strawberry.type(
    description="A page of the timeline, newest first; kinds you may not read are absent "
    "and listed in withheld (field: the category's field on Patient)."
)
class TimelineConnection:
    edges: list[TimelineEdge]
    page_info: PageInfo
    withheld: list[WithheldField]

    @classmethod
    def from_page(cls, page: TimelinePage) -> TimelineConnection:
        edges = [
            TimelineEdge(
                cursor=e.cursor,
                node=TimelineEntry(
                    kind=e.kind,
                    at=e.at,
                    record_id=strawberry.ID(str(e.record_id)),
                    title=e.title,
                    summary=e.summary,
                ),
            )
            for e in page.entries
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            withheld=withheld_fields(Withheld(w.field, w.rule) for w in page.withheld),
        )


async def resolve_timeline(
    root: Any,
    info: Info[ApiContext, None],
    first: int = DEFAULT_TIMELINE_PAGE,
    after: str | None = None,
    kinds: list[TimelineKind] | None = None,  # type: ignore[valid-type]
) -> TimelineConnection:
    """The patient's records across categories, newest first (at most 200 a page)."""
    ctx = info.context
    principal = ctx.caller
    patient_id = uuid.UUID(root.id)
    page = await ctx.run(
        lambda s: patient_timeline(
            session=s,
            principal=principal,
            policy=ctx.policy,
            patient_id=patient_id,
            first=first,
            after=after,
            kinds=kinds,
            log=ctx.reads,
            now=ctx.now,
        )
    )
    return TimelineConnection.from_page(page)
