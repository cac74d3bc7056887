"""graphql/schema.graphql is the code's schema; the operations validate against it."""

from __future__ import annotations

from pathlib import Path

from backend.api.export import schema_path, schema_sdl
from backend.settings import Settings
from graphql import build_schema, parse, validate

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_is_current() -> None:
    path = schema_path(Settings(env="test"))
    assert path.read_text(encoding="utf-8") == schema_sdl(), (
        "graphql/schema.graphql is stale: run `python -m backend.api.export`"
    )


def test_every_named_operation_validates_against_the_schema() -> None:
    schema = build_schema(schema_sdl())
    operations = sorted((ROOT / "graphql" / "operations").glob("*.graphql"))
    assert operations
    for path in operations:
        errors = validate(schema, parse(path.read_text(encoding="utf-8")))
        assert errors == [], (path.name, errors)
