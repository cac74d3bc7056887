"""A token asked for without --scope carries only what the user's roles can exercise."""

from __future__ import annotations

import pytest

from backend.auth.tokens import KNOWN_SCOPES, default_scopes


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"nurse"}, ("patients:read", "patients:write")),
        ({"front_desk"}, ("patients:read", "patients:write")),
        ({"admin"}, ("admin",)),
        ({"auditor"}, ("audit:read",)),
        ({"auditor", "physician"}, ("audit:read", "patients:read", "patients:write")),
        (set(), ()),
    ],
)
def test_default_scopes_follow_roles(roles: set[str], expected: tuple[str, ...]) -> None:
    assert default_scopes(frozenset(roles)) == expected
    assert set(default_scopes(frozenset(roles))) <= KNOWN_SCOPES
