"""Checks for the values staff send with a change, each reporting into :class:`Problems`.

Every check returns the cleaned value (or None) and notes a problem under the input
field's name instead of raising, so a service can report every bad field at once and
then :meth:`Problems.raise_if_any`. Messages never echo the value back: it may be PHI.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import TypeVar

from backend.common.errors import Problems

E = TypeVar("E", bound=enum.Enum)

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a "when did it happen" may be: clocks of phones and PCs drift."""


def text(
    problems: Problems,
    field: str,
    value: str | None,
    *,
    max_chars: int,
    required: bool = False,
) -> str | None:
    """Trimmed text, None when blank; required text must not be blank."""
    cleaned = value.strip() if value is not None else None
    if not cleaned:
        if required:
            problems.add(field, "is required")
        return None
    if len(cleaned) > max_chars:
        problems.add(field, f"is limited to {max_chars} characters")
        return None
    return cleaned


def choice(problems: Problems, field: str, value: str | None, enum_cls: type[E]) -> E | None:
    """One of ``enum_cls``'s values (as the API shows them, e.g. ``in_progress``)."""
    if value is None:
        return None
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum_cls)
        problems.add(field, f"must be one of: {allowed}")
        return None


def moment(
    problems: Problems,
    field: str,
    value: datetime | None,
    *,
    now: datetime,
    past_only: bool = False,
) -> datetime | None:
    """A timezone-aware datetime; ``past_only`` refuses times ahead of ``now``."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(field, "needs a timezone (e.g. 2025-01-31T09:00:00Z)")
        return None
    if past_only and value > now + CLOCK_SKEW:
        problems.add(field, "must not be in the future")
        return None
    return value


def whole_number(
    problems: Problems, field: str, value: int | None, *, low: int, high: int
) -> int | None:
    if value is None:
        return None
    if not low <= value <= high:
        problems.add(field, f"must be between {low} and {high}")
        return None
    return value
