"""The identity family: the duplicate review queue, merge/unmerge, and MPI KPIs.

Root fields live in :class:`IdentityQueries` and :class:`IdentityMutations`, composed
into ``Query`` and ``Mutation`` by ``backend.api.schema``; every decision is made by
the services in :mod:`backend.identity`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext
from backend.api.types.audit import _field, _mutation, _uuid
from backend.api.types.common import PageInfo
from backend.api.types.patient import Patient
from backend.identity.kpis import mpi_stats
from backend.identity.merge import (
    merge_patients,
)
from backend.identity.models import IdentityLink, MergeRecord
from backend.identity.review import (
    DEFAULT_PAGE_SIZE,
    DuplicatePage,
    mark_not_duplicate,
    possible_duplicates,
)
from backend.identity.unmerge import unmerge_patients


@strawberry.type(description="How one field compared between the two records.")
class FieldEvidence:
    field: str
    agreement: str = strawberry.field(description="exact, partial, disagree or missing")
    level: str | None = strawberry.field(description="the comparison level that matched")
    weight: float = strawberry.field(description="its log2(m/u) weight in the score")


@strawberry.type(description="Two records the matcher suspects are one person.")
class PossibleDuplicate:
    link_id: strawberry.ID
    score: float | None = strawberry.field(description="match probability, 0..1")
    total_weight: float | None
    evidence: list[FieldEvidence]
    method: str
    matcher_version: str | None
    suggested_at: datetime
    patient_a: Patient
    patient_b: Patient


@strawberry.type
class PossibleDuplicateEdge:
    cursor: str
    node: PossibleDuplicate


@strawberry.type(description="The review backlog, oldest first (Relay connection).")
class PossibleDuplicateConnection:
    edges: list[PossibleDuplicateEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: DuplicatePage) -> PossibleDuplicateConnection:
        edges = [
            PossibleDuplicateEdge(
                cursor=cursor,
                node=PossibleDuplicate(
                    link_id=strawberry.ID(str(item.link_id)),
                    score=item.score,
                    total_weight=item.total_weight,
                    evidence=[
                        FieldEvidence(
                            field=e.field, agreement=e.agreement, level=e.level, weight=e.weight
                        )
                        for e in item.evidence
                    ],
                    method=item.method,
                    matcher_version=item.matcher_version,
                    suggested_at=item.suggested_at,
                    patient_a=Patient.from_view(item.patient_a),
                    patient_b=Patient.from_view(item.patient_b),
                ),
            )
            for item, cursor in zip(page.items, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.type(description="Master patient index KPIs (counts only).")
class MpiStats:
    patients: int
    open_pairs: int = strawberry.field(description="the review backlog")
    duplicate_rate_per_1000: float = strawberry.field(
        description="open possible-duplicate pairs per 1,000 patients"
    )
    automatic_links: int = strawberry.field(description="links the matcher made on its own")
    automatic_merges: int
    manual_merges: int
    unmerges: int
    not_duplicate: int
    oldest_open_age_seconds: float | None
    median_open_age_seconds: float | None


@strawberry.type(description="A merge: unmerge it by linkId.")
class MergeResult:
    link_id: strawberry.ID
    merge_id: strawberry.ID
    survivor_id: strawberry.ID
    merged_id: strawberry.ID
    moved_records: int = strawberry.field(description="rows re-pointed to the survivor")
    merged_at: datetime
    unmerged_at: datetime | None


@strawberry.type(description="The decision that two records are different people.")
class NotDuplicateResult:
    link_id: strawberry.ID
    decided_at: datetime | None


def _result(record: MergeRecord) -> MergeResult:
    # Built inside the transaction: the ORM row is not read after its session closes.
    return MergeResult(
        link_id=strawberry.ID(str(record.link_id)),
        merge_id=strawberry.ID(str(record.id)),
        survivor_id=strawberry.ID(str(record.survivor_id)),
        merged_id=strawberry.ID(str(record.merged_id)),
        moved_records=sum(len(ids) for ids in record.moved_records.values()),
        merged_at=record.merged_at,
        unmerged_at=record.unmerged_at,
    )


def _decision(link: IdentityLink) -> NotDuplicateResult:
    return NotDuplicateResult(link_id=strawberry.ID(str(link.id)), decided_at=link.decided_at)


@strawberry.type
class IdentityQueries:
    @_field("Open possible duplicates with per-field evidence, oldest first; reviewers only.")
    async def possible_duplicates(
        self, info: Info[ApiContext, None], first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> PossibleDuplicateConnection:
        ctx = info.context
        principal = ctx.caller
        page = await ctx.run(
            lambda s: possible_duplicates(
                session=s,
                principal=principal,
                policy=ctx.policy,
                first=first,
                after=after,
                now=ctx.now,
                log=ctx.reads,
            )
        )
        return PossibleDuplicateConnection.from_page(page)

    @_field("Duplicate rate, automatic links, review backlog and its age; reviewers only.")
    async def mpi_stats(self, info: Info[ApiContext, None]) -> MpiStats:
        ctx = info.context
        principal = ctx.caller
        stats = await ctx.run(
            lambda s: mpi_stats(session=s, principal=principal, policy=ctx.policy, now=ctx.now)
        )
        return MpiStats(**{name: getattr(stats, name) for name in stats.__dataclass_fields__})


@strawberry.type
class IdentityMutations:
    @_mutation(
        "Fold mergedId into survivorId in one transaction: every record moves, nothing is "
        "deleted, and the merged id keeps answering with the survivor. CONFLICT if either "
        "was merged meanwhile."
    )
    async def merge_patients(
        self,
        info: Info[ApiContext, None],
        survivor_id: strawberry.ID,
        merged_id: strawberry.ID,
        reason: str,
        link_id: strawberry.ID | None = None,
    ) -> MergeResult:
        ctx = info.context
        principal = ctx.caller
        survivor, merged = _uuid(survivor_id, "survivorId"), _uuid(merged_id, "mergedId")
        link: uuid.UUID | None = None if link_id is None else _uuid(link_id, "linkId")
        return await ctx.run(
            lambda s: _result(
                merge_patients(
                    session=s,
                    principal=principal,
                    policy=ctx.policy,
                    survivor_id=survivor,
                    merged_id=merged,
                    reason=reason,
                    link_id=link,
                    now=ctx.now,
                )
            )
        )

    @_mutation("Undo a merge exactly (linkId from mergePatients); CONFLICT if already undone.")
    async def unmerge_patients(
        self, info: Info[ApiContext, None], link_id: strawberry.ID, reason: str
    ) -> MergeResult:
        ctx = info.context
        principal = ctx.caller
        link = _uuid(link_id, "linkId")
        return await ctx.run(
            lambda s: _result(
                unmerge_patients(
                    session=s,
                    principal=principal,
                    policy=ctx.policy,
                    link_id=link,
                    reason=reason,
                    now=ctx.now,
                )
            )
        )

    @_mutation("Record that two patients are different people; the pair is not suggested again.")
    async def mark_not_duplicate(
        self, info: Info[ApiContext, None], a: strawberry.ID, b: strawberry.ID, reason: str
    ) -> NotDuplicateResult:
        ctx = info.context
        principal = ctx.caller
        first, second = _uuid(a, "a"), _uuid(b, "b")
        return await ctx.run(
            lambda s: _decision(
                mark_not_duplicate(
                    session=s,
                    principal=principal,
                    policy=ctx.policy,
                    patient_a_id=first,
                    patient_b_id=second,
                    reason=reason,
                    now=ctx.now,
                )
            )
        )
