"""Migrations: they build the schema on both databases and match the models exactly."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from backend.migrations import current_revision, head_revision, pending_message
from backend.models import metadata


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == [], "models and migrations differ; write a migration:\n" + "\n".join(
        map(str, diff)
    )


def test_database_is_at_head(engine: Engine) -> None:
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        assert pending_message(connection) is None


def test_every_model_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_unmigrated_database_says_what_to_run(fresh_database_url: Callable[[str], str]) -> None:
    from backend.db import make_engine

    for backend in ("sqlite", "postgresql"):
        url = fresh_database_url(backend)
        engine = make_engine(url)
        with engine.connect() as connection:
            message = pending_message(connection)
        engine.dispose()
        assert message is not None
        assert "patient360 db upgrade" in message


def test_downgrade_and_upgrade_round_trip(fresh_database_url: Callable[[str], str]) -> None:
    from alembic import command
    from backend.db import make_engine
    from backend.migrations import alembic_config

    for backend in ("sqlite", "postgresql"):
        url = fresh_database_url(backend)
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        engine = make_engine(url)
        leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
        engine.dispose()
        assert leftover == set()
        command.upgrade(config, "head")
