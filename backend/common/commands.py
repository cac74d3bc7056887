"""What every ``patient360`` subcommand shares: settings or a clear exit, and failing
with one red line on stderr.

Lives apart from ``backend/cli.py`` because the domain CLIs it registers cannot import
that module back (a cycle). stdout stays free for what a command prints for scripts
(a link, a token).
"""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from backend.settings import Settings, UnsafeSettingsError, get_settings

stderr = Console(stderr=True, highlight=False)


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
        stderr.print(f"[red]configuration error:[/red] {first_line(exc)}")
        raise typer.Exit(2) from None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` and return the exit to raise (``raise fail(...)``)."""
    stderr.print(f"[red]{message}[/red]")
    return typer.Exit(code)
