"""What every ``patient360`` subcommand shares: settings or a clear exit, failing with
one red line on stderr, database trouble as one line, the schema check.

Lives apart from ``backend/cli.py`` because the domain CLIs it registers cannot import
that module back (a cycle). stdout stays free for what a command prints for scripts
(a link, a token).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from backend.settings import Settings, UnsafeSettingsError, get_settings

console = Console()
err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def first_line(exc: BaseException) -> str:
    """An error's first line, for one-line messages (pydantic's first problem)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def settings_or_exit() -> Settings:
    """The settings, or exit 2 naming the first problem with them."""
    try:
        return get_settings()
    except (ValidationError, UnsafeSettingsError, ValueError) as exc:
        err.print(f"[red]configuration error:[/red] {first_line(exc)}")
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` and return the exit to raise (``raise fail(...)``)."""
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def safe_url(url: str) -> str:
    """A database URL fit to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def database_errors(fn: F) -> F:
    """Turn 'cannot reach the database' into one clear line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            settings = get_settings()
            reason = first_line(exc.orig) if exc.orig is not None else first_line(exc)
            where = safe_url(settings.database_url)
            err.print(f"[red]cannot use the database at {where}:[/red] {reason}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def require_current_schema(settings: Settings) -> None:
    """Exit 1 with what to run when the database is missing or not migrated to head."""
    from backend.db import make_engine
    from backend.migrations import pending_message

    url = make_url(settings.database_url)
    on_disk = url.database not in (None, "", ":memory:")
    if url.get_backend_name() == "sqlite" and on_disk and not Path(str(url.database)).exists():
        # Connecting would create an empty file (or fail on a missing folder): say instead.
        err.print("[red]the database has no schema yet: run `patient360 db upgrade`[/red]")
        raise typer.Exit(1)
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        pending = pending_message(connection)
    engine.dispose()
    if pending:
        err.print(f"[red]{pending}[/red]")
        raise typer.Exit(1)
