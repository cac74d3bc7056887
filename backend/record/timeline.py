"""A patient's timeline: one chronological journey, newest first, across every category
of the record the caller may read.

Cost is bounded by the number of categories, never by the number of records: one query
per readable kind, each limited to the page size plus one (plus the Part 2 consent
lookup and, with a cursor, one anchor lookup). Each query carries the same row scope and
record rules as every other read (:func:`backend.access.listing.readable_rows`), so a
Part 2 record the caller's consent does not cover, or someone else's psychotherapy note,
is simply not there.

Entries are built from masked rows: a title or summary only ever uses fields the caller
may read, and a kind whose date fields the caller may not read is withheld as a whole
(its place in the order would disclose them). Cursors name the last entry's kind and
record id only, never its date: the date is looked up again, within scope, on the next
page, so a cursor carries no patient data into URLs or logs.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from backend.access.listing import readable_rows
from backend.access.masking import GROUP_RULE_PREFIX, MaskPlan, Withheld, mask_plan
from backend.access.policy import UNASSIGNED, CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.access.sensitivity import load_patient_access
from backend.common.errors import InvalidInput
from backend.common.mixins import utcnow
from backend.record.categories import CATEGORIES, Category, RecordKind

MAX_TIMELINE_PAGE = 200
DEFAULT_TIMELINE_PAGE = 50
_CURSOR_PREFIX = b"timeline:"


class TimelineInputError(InvalidInput):
    """A bad page size, cursor or kind: answered as BAD_USER_INPUT."""


@dataclass(frozen=True, slots=True)
class TimelineEntryView:
    kind: RecordKind
    at: datetime
    record_id: uuid.UUID
    title: str
    summary: str | None
    cursor: str


@dataclass(frozen=True, slots=True)
class TimelinePage:
    """One page of the timeline; ``withheld`` names the kinds (category names) left out
    because the caller may not read them, with the rule."""

    entries: tuple[TimelineEntryView, ...]
    has_next_page: bool
    has_previous_page: bool
    withheld: tuple[Withheld, ...]


@dataclass(frozen=True, slots=True)
class _Row:
    kind: RecordKind
    at: datetime
    record_id: uuid.UUID
    values: dict[str, Any]

    def sort_key(self) -> tuple[str, uuid.UUID]:
        return (self.kind.value, self.record_id)


def encode_cursor(kind: RecordKind, record_id: uuid.UUID) -> str:
    raw = _CURSOR_PREFIX + kind.value.encode() + b":" + record_id.bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[RecordKind, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TimelineInputError("after", "invalid cursor") from exc
    if not raw.startswith(_CURSOR_PREFIX) or len(raw) < len(_CURSOR_PREFIX) + 18:
        raise TimelineInputError("after", "invalid cursor")
    kind_raw, record = raw[len(_CURSOR_PREFIX) : -17], raw[-17:]
    try:
        kind = RecordKind(kind_raw.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise TimelineInputError("after", "invalid cursor") from exc
    if record[:1] != b":":
        raise TimelineInputError("after", "invalid cursor")
    return kind, uuid.UUID(bytes=record[1:])


def _at(category: Category[Any]) -> ColumnElement[Any]:
    """When a record happened: its category's date columns, else when we learned of it."""
    table = category.model.__table__
    columns = [table.c[name] for name in category.at] + [table.c.recorded_at]
    return func.coalesce(*columns, type_=table.c.recorded_at.type)


def _date_fields(category: Category[Any]) -> tuple[str, ...]:
    return (*category.at, "recorded_at")


def _kind_withheld(category: Category[Any], plan: MaskPlan, policy: CompiledPolicy) -> str | None:
    """The rule that keeps this kind off the caller's timeline, or None."""
    if plan.sees_nothing:
        return GROUP_RULE_PREFIX + (policy.group_of(category.record_type, "id") or UNASSIGNED)
    for name in _date_fields(category):
        if name not in plan.allowed:
            return plan.rule_for(name)
    return None


def _after(
    category: Category[Any], anchor: tuple[datetime, RecordKind, uuid.UUID]
) -> ColumnElement[bool]:
    """Keyset condition: entries sort by date descending, then kind, then id."""
    at, kind, record_id = anchor
    when, ident = _at(category), category.model.id
    if category.kind.value > kind.value:
        return when <= at
    if category.kind.value < kind.value:
        return when < at
    return or_(when < at, and_(when == at, ident > record_id))


def _anchor(
    session: Session,
    *,
    category: Category[Any],
    record_id: uuid.UUID,
    patient_id: uuid.UUID,
    filters: Sequence[ColumnElement[bool]],
) -> datetime:
    """The cursor's record's date, looked up within scope and rules: a cursor made from
    a record the caller cannot see reveals nothing about where it sorts."""
    model = category.model
    found = session.execute(
        select(_at(category)).where(
            model.id == record_id, model.patient_id == patient_id, *filters, *category.where
        )
    ).scalar_one_or_none()
    if found is None:
        raise TimelineInputError("after", "invalid cursor")
    at: datetime = found
    return at


def _text(value: Any) -> str:
    return str(value.value if hasattr(value, "value") else value)


def _entry(row: _Row, category: Category[Any]) -> TimelineEntryView:
    values = row.values
    title = next((_text(values[f]) for f in category.title if values.get(f) is not None), None)
    parts = [_text(values[f]) for f in category.summary if values.get(f) is not None]
    return TimelineEntryView(
        kind=row.kind,
        at=row.at,
        record_id=row.record_id,
        title=title or category.label,
        summary=" · ".join(parts) or None,
        cursor=encode_cursor(row.kind, row.record_id),
    )


def patient_timeline(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    first: int = DEFAULT_TIMELINE_PAGE,
    after: str | None = None,
    kinds: Iterable[RecordKind] | None = None,
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> TimelinePage:
    """The patient's records of ``kinds`` (default: all) the caller may read, newest
    first, ``first`` at most :data:`MAX_TIMELINE_PAGE`, after the ``after`` cursor."""
    if not 1 <= first <= MAX_TIMELINE_PAGE:
        raise TimelineInputError("first", f"first must be between 1 and {MAX_TIMELINE_PAGE}")
    cursor = decode_cursor(after) if after is not None else None
    now = now or utcnow()
    on_timeline = {kind for kind, c in CATEGORIES.items() if c.on_timeline}
    wanted = set(kinds) if kinds is not None else on_timeline
    if wanted - on_timeline:
        names = ", ".join(sorted(k.value for k in wanted - on_timeline))
        raise TimelineInputError("kinds", f"not on the timeline: {names}")
    categories = [c for kind, c in CATEGORIES.items() if kind in wanted]
    plans: dict[RecordKind, MaskPlan] = {}
    withheld: list[Withheld] = []
    for category in categories:
        plan = mask_plan(policy=policy, principal=principal, record_type=category.record_type)
        rule = _kind_withheld(category, plan, policy)
        if rule is None:
            plans[category.kind] = plan
        else:
            withheld.append(Withheld(category.name, rule))
    if cursor is not None and cursor[0] not in plans:
        raise TimelineInputError("after", "invalid cursor")
    access = (
        load_patient_access(session=session, principal=principal, patient_ids=[patient_id], now=now)
        if plans
        else {}
    )
    anchor: tuple[datetime, RecordKind, uuid.UUID] | None = None
    if cursor is not None:
        kind, record_id = cursor
        anchor_category = CATEGORIES[kind]
        at = _anchor(
            session,
            category=anchor_category,
            record_id=record_id,
            patient_id=patient_id,
            filters=readable_rows(
                anchor_category.model, principal=principal, now=now, access=access
            ),
        )
        anchor = (at, kind, record_id)
    rows: list[_Row] = []
    for category in categories:
        if category.kind not in plans:
            continue
        model = category.model
        filters = readable_rows(model, principal=principal, now=now, access=access)
        table = model.__table__
        shown = dict.fromkeys(("id", *category.title, *category.summary))
        query = select(_at(category).label("_at"), *(table.c[n] for n in shown)).where(
            model.patient_id == patient_id,
            *filters,
            *category.clauses(policy=policy, principal=principal),
        )
        if anchor is not None:
            query = query.where(_after(category, anchor))
        query = query.order_by(_at(category).desc(), model.id).limit(first + 1)
        for found in session.execute(query).mappings():
            values = dict(found)
            at_value = values.pop("_at")
            rows.append(_Row(category.kind, at_value, values["id"], values))
    # Newest first; ties by kind then id, exactly as the keyset condition reads them.
    rows.sort(key=_Row.sort_key)
    rows.sort(key=lambda r: r.at, reverse=True)
    page = rows[:first]
    entries = []
    target = log if log is not None else ReadLog()
    for row in page:
        category, plan = CATEGORIES[row.kind], plans[row.kind]
        masked = plan.mask(row.values)
        entries.append(_entry(_Row(row.kind, row.at, row.record_id, masked.values), category))
        target.note(
            patient_id=patient_id,
            record_type=category.record_type,
            fields=plan.allowed & {*row.values, *_date_fields(category)},
            withheld=masked.withheld,
        )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
    return TimelinePage(
        entries=tuple(entries),
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        withheld=tuple(withheld),
    )
