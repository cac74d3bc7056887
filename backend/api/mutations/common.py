"""What the mutation modules share: id parsing and field decorators with descriptions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

from backend.api.errors import bad_input

F = TypeVar("F", bound=Callable[..., Any])


def parse_id(raw: str | None, field: str) -> uuid.UUID | None:
    """An ID argument as a UUID; a malformed one is BAD_USER_INPUT naming ``field``."""
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise bad_input(field, "is not an id") from None


def require_id(raw: str, field: str) -> uuid.UUID:
    parsed = parse_id(raw, field)
    assert parsed is not None
    return parsed


def mutation(description: str) -> Callable[[F], F]:
    # strawberry.mutation(description=...) is typed Any; it returns a field that
    # strawberry.type turns back into the resolver's type.
    return cast("Callable[[F], F]", strawberry.mutation(description=description))
