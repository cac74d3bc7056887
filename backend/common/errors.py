"""The outcomes every domain service may report, whatever the transport.

Services raise these; each transport maps them once (GraphQL: ``backend.api.errors``
turns them into NOT_FOUND, FORBIDDEN, BAD_USER_INPUT and CONFLICT). Messages are shown
to the caller, so they name fields and rules, never patient data values.

* :class:`NotFound` also stands for "out of scope": the caller must not be able to
  tell a patient they may not see from one that does not exist.
* :class:`InvalidInput` names the input field that was wrong (the service's own
  argument or column name; transports translate it to theirs) and may carry every
  problem found, so a form can mark all its bad fields at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class DomainError(Exception):
    """Base of the expected outcomes; ``str(exc)`` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError, LookupError):
    """No such record, or one the caller may not see: both answer the same."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class Forbidden(DomainError, PermissionError):
    """The caller's roles do not allow the action (whatever the record).

    ``refused`` names what was missing, for the audit trail: ``capability.<name>`` or
    ``Type.field`` (names only, never values).
    """

    def __init__(self, message: str, *, refused: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.refused = tuple(refused)


@dataclass(frozen=True, slots=True)
class Problem:
    """One bad input field and what is wrong with it."""

    field: str
    message: str


class InvalidInput(DomainError, ValueError):
    """Input the service refuses; ``field`` is the first bad field, ``problems`` all."""

    def __init__(self, field: str, message: str, *, more: Iterable[Problem] = ()) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problems: tuple[Problem, ...] = (Problem(field, message), *more)

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> InvalidInput:
        first, *rest = problems
        return cls(first.field, first.message, more=rest)


class Conflict(DomainError):
    """The record changed since the caller read it (a stale ``version``)."""


class Problems:
    """Collects input problems so a service can report them all, then raise once."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.found.append(Problem(field, message))

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_if_any(self) -> None:
        if self.found:
            raise InvalidInput.of(self.found)
