"""``patient360 import fhir PATH...``: import Bundles and NDJSON files or folders.

Registered on the ``patient360 import`` group in backend/interop/cli.py. Each file
commits on its own (all or nothing per file); the summary table counts resources per
type; exit 1 when any file was rejected, with every problem named by file, entry and
field path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from backend.interop.fhir.report import OUTCOMES, ImportReport

console = Console()
err = Console(stderr=True)
CLI_ACTOR = "cli:fhir-import"
"""Who the audit trail names for command-line imports (the operator on the server)."""


def import_fhir(
    paths: Annotated[
        list[Path], typer.Argument(help="Bundle .json / bulk .ndjson files or folders.")
    ],
    source: Annotated[
        str | None,
        typer.Option(help="Source system (default: Bundle.meta.source, else the first meta.tag)."),
    ] = None,
) -> None:
    """Import FHIR R4 Bundles (transaction, batch, collection) and bulk NDJSON."""
    from sqlalchemy.orm import Session

    from backend.db import make_engine
    from backend.interop.fhir.ahead import prepared_files
    from backend.interop.fhir.importer import import_batch
    from backend.interop.fhir.reader import ReadError, files_under
    from backend.patients.identifiers import ssn_key
    from backend.settings import get_settings

    settings = get_settings()
    try:
        files = files_under(paths)
    except ReadError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if not files:
        err.print("[red]no .json or .ndjson files found[/red]")
        raise typer.Exit(2)
    key = ssn_key(settings.secret())
    engine = make_engine(settings.database_url)
    report = ImportReport()
    unreadable: list[str] = []
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*Progress.get_default_columns()[:1], *columns, console=err) as progress:
            task = progress.add_task("importing", total=len(files))
            for item in prepared_files(files):
                progress.update(task, description=item.path.name[:40])
                if item.batch is None:
                    unreadable.append(str(item.error))
                    progress.advance(task)
                    continue
                with Session(engine) as session, session.begin():
                    report.batches.append(
                        import_batch(
                            session=session,
                            batch=item.batch,
                            ssn_key=key,
                            source_system=source,
                            actor=CLI_ACTOR,
                            validated=item.validated,
                        )
                    )
                progress.advance(task)
    finally:
        engine.dispose()
    console.print(summary_table(report))
    console.print(f"patients created or changed: {len(report.patients_upserted)}")
    problems = [str(p) for b in report.batches for p in b.problems] + unreadable
    for problem in problems:
        err.print(f"[red]{problem}[/red]")
    if problems:
        raise typer.Exit(1)


def summary_table(report: ImportReport) -> Table:
    table = Table(title="FHIR import")
    table.add_column("resource type")
    for outcome in OUTCOMES:
        table.add_column(outcome, justify="right")
    for resource_type, counts in report.totals().items():
        table.add_row(resource_type, *(str(getattr(counts, o)) for o in OUTCOMES))
    return table
