"""Master patient index KPIs: how many duplicates wait, how old the backlog is, how much
the matcher decides on its own. Counts only, no patient data; for reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus
from backend.identity.review import open_suggestions, require_reviewer
from backend.patients.models import Patient, PatientStatus

AUTOMATIC = (LinkMethod.AUTOMATIC, LinkMethod.RULE)


@dataclass(frozen=True, slots=True)
class MpiStats:
    patients: int  # live records that are not merged away
    open_pairs: int  # the review backlog
    duplicate_rate_per_1000: float  # open pairs per 1,000 patients
    automatic_links: int  # suggestions the matcher confirmed on its own
    automatic_merges: int  # standing merges made from those
    manual_merges: int  # standing merges made by staff
    unmerges: int
    not_duplicate: int  # pairs staff decided are different people
    oldest_open_age_seconds: float | None
    median_open_age_seconds: float | None


def _count(session: Session, *where: ColumnElement[bool]) -> int:
    return int(session.execute(select(func.count(IdentityLink.id)).where(*where)).scalar() or 0)


def mpi_stats(
    *, session: Session, principal: Principal, policy: CompiledPolicy, now: datetime
) -> MpiStats:
    """The KPIs over the whole index (counts are not patient data, so not scoped)."""
    require_reviewer(principal, policy)
    patients = int(
        session.execute(
            select(func.count(Patient.id)).where(
                Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED
            )
        ).scalar()
        or 0
    )
    source, where = open_suggestions(principal=None, now=now)
    backlog = source.where(*where).with_only_columns(IdentityLink.recorded_at)
    open_pairs = int(
        session.execute(select(func.count()).select_from(backlog.subquery())).scalar() or 0
    )
    oldest = median = None
    if open_pairs:
        ordered = backlog.order_by(IdentityLink.recorded_at)
        # The median without loading the backlog: one or two rows at the middle offset.
        middle = list(
            session.execute(
                ordered.offset((open_pairs - 1) // 2).limit(2 - open_pairs % 2)
            ).scalars()
        )
        first = session.execute(ordered.limit(1)).scalar_one()
        oldest = (now - first).total_seconds()
        median = sum((now - t).total_seconds() for t in middle) / len(middle)
    merged = (IdentityLink.kind == LinkKind.MERGED_INTO,)
    return MpiStats(
        patients=patients,
        open_pairs=open_pairs,
        duplicate_rate_per_1000=round(open_pairs * 1000 / patients, 3) if patients else 0.0,
        automatic_links=_count(
            session,
            IdentityLink.kind == LinkKind.POSSIBLE_DUPLICATE,
            IdentityLink.status.in_([LinkStatus.CONFIRMED, LinkStatus.UNDONE]),
            IdentityLink.method.in_(AUTOMATIC),
        ),
        automatic_merges=_count(
            session,
            *merged,
            IdentityLink.status == LinkStatus.CONFIRMED,
            IdentityLink.method.in_(AUTOMATIC),
        ),
        manual_merges=_count(
            session,
            *merged,
            IdentityLink.status == LinkStatus.CONFIRMED,
            IdentityLink.method == LinkMethod.MANUAL,
        ),
        unmerges=_count(session, *merged, IdentityLink.status == LinkStatus.UNDONE),
        not_duplicate=_count(
            session,
            IdentityLink.kind == LinkKind.NOT_DUPLICATE,
            IdentityLink.status == LinkStatus.CONFIRMED,
        ),
        oldest_open_age_seconds=oldest,
        median_open_age_seconds=median,
    )
