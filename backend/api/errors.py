"""Error codes every GraphQL client can switch on, and which errors production hides.

Resolvers raise :func:`api_error`; anything else that escapes a resolver is a bug and,
in production, reaches the client as "Unexpected error." with no message or trace
(:func:`should_mask`). Parse and validation errors are the client's own query and are
never masked.
"""

from __future__ import annotations

import enum

from graphql import GraphQLError


class ErrorCode(enum.StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    INTERNAL = "INTERNAL"


NOT_FOUND_MESSAGE = "Not found."


def api_error(code: ErrorCode, message: str) -> GraphQLError:
    """An error with ``extensions.code``; ``message`` must hold no patient data."""
    return GraphQLError(message, extensions={"code": code.value})


def unauthenticated() -> GraphQLError:
    return api_error(ErrorCode.UNAUTHENTICATED, "Sign in or send a valid bearer token.")


def not_found() -> GraphQLError:
    # One message for "no such record" and "not yours to see": they must be identical.
    return api_error(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE)


def bad_input(message: str) -> GraphQLError:
    return api_error(ErrorCode.BAD_USER_INPUT, message)


def should_mask(error: GraphQLError) -> bool:
    """Mask an error unless it carries one of our codes or is about the query itself."""
    if error.original_error is None:
        return False  # syntax, validation, depth/token/alias limits
    code = (error.extensions or {}).get("code")
    return code not in {c.value for c in ErrorCode}
