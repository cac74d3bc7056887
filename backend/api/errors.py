"""Error codes every GraphQL client can switch on, and which errors production hides.

Domain services raise the shared outcomes of :mod:`backend.common.errors`;
:func:`domain_errors` (entered by :meth:`ApiContext.run` around every service call) is
the one place they become codes: NotFound -> NOT_FOUND, Forbidden -> FORBIDDEN,
InvalidInput -> BAD_USER_INPUT with ``extensions.field`` (the GraphQL name of the bad
input field) and ``extensions.problems``, Conflict -> CONFLICT. Anything else that
escapes a resolver is a bug and, in production, reaches the client as "Unexpected
error." with no message or trace (:func:`should_mask`). Parse and validation errors
are the client's own query and are never masked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager

from strawberry.utils.str_converters import to_camel_case

from backend.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from graphql import GraphQLError


class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    INTERNAL = "INTERNAL"


NOT_FOUND_MESSAGE = "Not found."


def api_error(code: ErrorCode, message: str, **extensions: object) -> GraphQLError:
    """An error with ``extensions.code``; ``message`` must hold no patient data."""
    return GraphQLError(message, extensions={"code": code.value, **extensions})


def unauthenticated() -> GraphQLError:
    return api_error(ErrorCode.UNAUTHENTICATED, "Sign in or send a valid bearer token.")


def not_found() -> GraphQLError:
    # One message for "no such record" and "not yours to see": they must be identical.
    return api_error(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE)


def graphql_field(name: str) -> str:
    """A service's field name (``due_at``, ``input.due_at``) as the client wrote it."""
    return ".".join(to_camel_case(part) for part in name.split("."))


def bad_input(field: str, message: str) -> GraphQLError:
    """BAD_USER_INPUT naming the input field (``field`` in service spelling)."""
    return from_invalid_input(InvalidInput(field, message))


def from_invalid_input(exc: InvalidInput) -> GraphQLError:
    problems = [{"field": graphql_field(p.field), "message": p.message} for p in exc.problems]
    first = problems[0]
    return api_error(
        ErrorCode.BAD_USER_INPUT,
        f"{first['field']}: {first['message']}",
        field=first["field"],
        problems=problems,
    )


class DomainGraphQLError(GraphQLError):
    """A domain outcome as a GraphQL error, keeping the outcome for the server side (the
    audit of refused writes reads ``domain.refused``); the client sees only message and
    extensions."""

    domain: DomainError | None = None


def to_graphql_error(exc: Exception) -> GraphQLError | None:
    """The client-facing error for a domain outcome; ``None`` for anything else."""
    if isinstance(exc, NotFound):
        return not_found()
    if isinstance(exc, Forbidden):
        return api_error(ErrorCode.FORBIDDEN, exc.message)
    if isinstance(exc, InvalidInput):
        return from_invalid_input(exc)
    if isinstance(exc, Conflict):
        return api_error(ErrorCode.CONFLICT, exc.message)
    return None


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the domain outcomes raised inside into GraphQL errors with codes; anything
    else passes through unchanged (and is masked in production)."""
    try:
        yield
    except DomainError as exc:
        error = to_graphql_error(exc)
        if error is None:  # a DomainError subclass no transport knows yet: a bug
            raise
        kept = DomainGraphQLError(error.message, extensions=error.extensions)
        kept.domain = exc
        raise kept from None


def should_mask(error: GraphQLError) -> bool:
    """Mask an error unless it carries one of our codes or is about the query itself."""
    if error.original_error is None:
        return False  # syntax, validation, depth/token/alias limits
    code = (error.extensions or {}).get("code")
    return code not in {c.value for c in ErrorCode}
