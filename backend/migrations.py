"""Alembic, driven from code: upgrade, current revision, and whether a database is current."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from alembic import command
from backend.settings import project_root

ALEMBIC_DIR = project_root() / "alembic"


def alembic_config(database_url: str, *, script_location: Path = ALEMBIC_DIR) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # env.py reads the URL from here; '%' must be doubled for ConfigParser interpolation.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def pending_message(connection: Connection) -> str | None:
    """None when the schema is current, else one line saying what to run."""
    current, head = current_revision(connection), head_revision()
    if current == head:
        return None
    if current is None:
        return "the database has no schema yet: run `patient360 db upgrade`"
    return f"the database schema is at {current}, code expects {head}: run `patient360 db upgrade`"
