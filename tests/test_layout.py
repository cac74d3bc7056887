"""Guards for the repository layout: nothing may shadow a library."""

from __future__ import annotations

from pathlib import Path

import graphql

ROOT = Path(__file__).resolve().parent.parent


def test_import_graphql_finds_graphql_core() -> None:
    assert hasattr(graphql, "graphql_sync"), graphql.__file__
    assert ROOT / "graphql" not in Path(graphql.__file__).parents


def test_graphql_and_alembic_folders_are_not_packages() -> None:
    assert not (ROOT / "graphql" / "__init__.py").exists()
    assert not list((ROOT / "graphql").rglob("*.py"))
    assert not (ROOT / "alembic" / "__init__.py").exists()
    assert not (ROOT / "tests" / "graphql").exists()
