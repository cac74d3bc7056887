"""The ``patient360`` command: database, demo data and the web server.

Later subcommands (token, import, export, mpi, audit, hl7, portal) register here too.
"""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from backend.common.commands import (
    console,
    database_errors,
    err,
    require_current_schema,
    safe_url,
    settings_or_exit,
)
from backend.settings import Settings

app = typer.Typer(
    name="patient360",
    help="patient360: one patient record, shown to each person as they may see it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
@database_errors
def db_upgrade() -> None:
    """Create the schema or bring it up to date (Alembic upgrade to head)."""
    from backend.migrations import upgrade_to_head

    settings = settings_or_exit()
    _ensure_sqlite_dir(settings)
    upgrade_to_head(settings.database_url)
    console.print(f"database at {safe_url(settings.database_url)} is up to date")


@db_app.command("current")
@database_errors
def db_current() -> None:
    """Show the schema revision of the database and whether it is current."""
    from backend.db import make_engine
    from backend.migrations import current_revision, head_revision, pending_message

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        current = current_revision(connection)
        pending = pending_message(connection)
    engine.dispose()
    console.print(f"database: {current or 'empty'}   code: {head_revision()}")
    if pending:
        err.print(pending)
        raise typer.Exit(1)


def _ensure_sqlite_dir(settings: Settings) -> None:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


@app.command()
@database_errors
def demo(
    patients: Annotated[int, typer.Option(min=0, max=1_000_000, help="How many patients.")] = 200,
    seed: Annotated[int, typer.Option(help="Same seed and --today, same data.")] = 360,
    today: Annotated[
        str | None, typer.Option(help="The demo's today as YYYY-MM-DD (default: today).")
    ] = None,
    reset: Annotated[bool, typer.Option(help="Delete all existing data first.")] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the database has data.")
    ] = False,
    show_logins: Annotated[
        bool, typer.Option(help="Print the demo logins (they are kept in var/ either way).")
    ] = True,
) -> None:
    """Fill the database with a realistic, deterministic demo clinic."""
    from backend.db import make_engine
    from backend.demo.seed import DemoRefusedError, has_data, seed_demo

    settings = settings_or_exit()
    if settings.is_production:
        err.print("[red]refusing to write demo data in production[/red]")
        raise typer.Exit(2)
    try:
        day = date.fromisoformat(today) if today else date.today()
    except ValueError:
        err.print(f"[red]--today must be a date as YYYY-MM-DD, not {today!r}[/red]")
        raise typer.Exit(2) from None
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    if if_empty:
        with engine.connect() as connection:
            if has_data(connection):
                console.print("database already has data; demo data not written")
                return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("writing demo patients", total=patients)
        try:
            report = seed_demo(
                engine,
                patients_count=patients,
                seed=seed,
                today=day,
                secret_key=settings.secret(),
                reset=reset,
                progress=lambda n: bar.advance(task, n),
            )
        except DemoRefusedError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    engine.dispose()
    _save_logins(settings, report.logins, report.portal_logins)
    rate = report.rows / report.seconds if report.seconds else 0
    console.print(
        f"wrote {report.patients:,} patients and {report.rows:,} rows in {report.seconds:.1f} s "
        f"({rate:,.0f} rows/s; {report.duplicate_pairs} deliberate near-duplicates)"
    )
    if show_logins:
        print_logins(settings)


def _logins_file(settings: Settings) -> Path:
    return settings.var / "demo-logins.txt"


def _save_logins(settings: Settings, logins: list[Any], portal_logins: list[Any]) -> None:
    """Keep the demo's sign-ins (0600) so ``serve`` can show them again: one line per
    login, ``staff`` or ``portal``, name, password and, for the portal, who it is."""
    path = _logins_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        for login in logins:
            handle.write(f"staff\t{login.username}\t{login.password}\n")
        for portal in portal_logins:
            handle.write(f"portal\t{portal.email}\t{portal.password}\t{portal.who}\n")


def print_logins(settings: Settings) -> None:
    path = _logins_file(settings)
    if not path.exists():
        return
    staff = Table(title=f"Demo staff logins (kept in {path})")
    staff.add_column("username")
    staff.add_column("password")
    portal = Table(title="Demo patient portal logins (sign in at /portal/sign-in)")
    portal.add_column("e-mail")
    portal.add_column("password")
    portal.add_column("patient")
    for line in path.read_text().splitlines():
        kind, *fields = line.split("\t")
        if kind == "portal" and len(fields) == 3:
            portal.add_row(*fields)
        elif kind == "staff" and len(fields) == 2:
            staff.add_row(*fields)
    console.print(staff)
    if portal.row_count:
        console.print(portal)


@app.command()
@database_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the web app with uvicorn."""
    import uvicorn

    settings = settings_or_exit()
    require_current_schema(settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"\npatient360 is at [bold]http://{bind_host}:{bind_port}/[/bold]")
    console.print(
        f"staff: sign in at http://{bind_host}:{bind_port}/auth/sign-in"
        + (", then GraphiQL at /graphql" if settings.env == "development" else "")
        + "; scripts: a bearer token from `patient360 token --user physician`"
    )
    console.print(f"patients: the portal at http://{bind_host}:{bind_port}/portal")
    print_logins(settings)
    uvicorn.run(
        "backend.app:app_from_environment",
        factory=True,
        host=bind_host,
        port=bind_port,
        reload=reload,
        log_level="info",
        proxy_headers=False,
    )


def _register_subcommands() -> None:
    # Imported here, not at the top: each domain's CLI pulls in its own dependencies.
    from backend.access.cli import audit_app
    from backend.accounts.cli import portal_app
    from backend.auth.cli import auth_app, client_app, token
    from backend.engagement.cli import survey_app
    from backend.interop.cli import export_app, import_app
    from backend.interop.hl7v2.cli import hl7_app
    from backend.mpi.cli import mpi_app

    app.command("token")(token)
    app.add_typer(client_app, name="client")
    app.add_typer(auth_app, name="auth")
    app.add_typer(audit_app, name="audit")
    app.add_typer(hl7_app, name="hl7")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.add_typer(portal_app, name="portal")
    app.add_typer(mpi_app, name="mpi")
    app.add_typer(survey_app, name="survey")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
