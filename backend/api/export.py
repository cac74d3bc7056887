"""Export the schema's SDL to ``graphql/schema.graphql``: ``python -m backend.api.export``.

The file is the API's contract for clients and reviewers; ``tests/api/test_export.py``
fails when it differs from what the code builds.
"""

from __future__ import annotations

from pathlib import Path

from backend.api.schema import build_schema
from backend.settings import Settings, get_settings


def schema_sdl() -> str:
    """The SDL as clients see it (the development schema: same types, no hiding)."""
    return build_schema(production=False).as_str().rstrip("\n") + "\n"


def schema_path(settings: Settings) -> Path:
    return settings.home / "graphql" / "schema.graphql"


def export(settings: Settings) -> Path:
    path = schema_path(settings)
    path.write_text(schema_sdl(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(export(get_settings()))
