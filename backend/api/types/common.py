"""Types every family shares: withheld-field markers, page info, view copying."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

import strawberry
from strawberry.utils.str_converters import to_camel_case

from backend.access.masking import Withheld

T = TypeVar("T")


@strawberry.type(description="A field the caller may not see (it is null), and the rule why.")
class WithheldField:
    field: str = strawberry.field(description="The GraphQL field name on this object.")
    rule: str = strawberry.field(
        description="field_group:<group> (a group the caller's roles lack), or a record rule."
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def withheld_fields(withheld: Iterable[Withheld]) -> list[WithheldField]:
    # Services speak column names; clients see GraphQL names.
    return [WithheldField(field=to_camel_case(w.field), rule=w.rule) for w in withheld]


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def from_view(cls: type[T], view: Any, **extra: Any) -> T:
    """An instance of the Strawberry type ``cls`` with the same-named fields of ``view``
    (UUIDs become ID strings) and its ``withheld`` list; ``extra`` fills the rest."""
    values = {
        f.name: _plain(getattr(view, f.name))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name not in extra and f.name != "withheld" and hasattr(view, f.name)
    }
    values["withheld"] = withheld_fields(view.withheld)
    return cls(**values, **extra)
