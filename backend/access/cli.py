"""``patient360 audit``: operator commands for the audit trail.

Registered in backend/cli.py with ``app.add_typer(audit_app, name="audit")``.
"""

from __future__ import annotations

import typer
from rich.console import Console

audit_app = typer.Typer(help="Check the tamper-evident audit trail.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 if any row was altered, deleted or reordered."""
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.orm import Session

    from backend.access.audit import verify
    from backend.db import make_engine
    from backend.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            result = verify(session)
    except (OperationalError, ProgrammingError) as exc:
        # One line, no SQL: the statement could only name tables, but keep output short.
        err.print(f"[red]cannot read the audit trail:[/red] {type(exc.orig).__name__}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if result.ok:
        console.print(f"audit trail intact: {result.checked} events verified")
        return
    count = len(result.problems)
    err.print(f"[red]audit trail BROKEN[/red]: {count} problem(s) in {result.checked} events")
    for problem in result.problems:
        err.print(f"  seq {problem.seq}: {problem.kind}")
    raise typer.Exit(1)
