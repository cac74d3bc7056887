"""``patient360 import csv --mapping MAPPING.toml PATH [--dry-run]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from backend.common.commands import (
    console,
    database_errors,
    err,
    require_current_schema,
    settings_or_exit,
)
from backend.db import make_engine, transaction
from backend.interop.csv.load import CsvImportError, load_csv
from backend.interop.csv.mapping import MappingError, load_mapping


@database_errors
def import_csv(
    path: Annotated[Path, typer.Argument(help="The CSV file exported from the CRM.")],
    mapping_path: Annotated[
        Path, typer.Option("--mapping", help="TOML file: CSV column -> field.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
) -> None:
    """Import inquiries/admissions or communications from a CRM export (all or nothing)."""
    try:
        mapping = load_mapping(mapping_path)
    except MappingError as exc:
        err.print(f"[red]{mapping_path}: {exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    require_current_schema(settings)
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            report = load_csv(session=session, path=path, mapping=mapping, dry_run=dry_run)
    except CsvImportError as exc:
        for problem in exc.errors:
            err.print(f"{path.name}: {problem}", highlight=False)
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if dry_run:
        table = Table(title=f"Dry run: {path.name} ({report.rows} rows)")
        for column in ("line", "record", "id", "would", "fields"):
            table.add_column(column)
        for change in report.changes:
            table.add_row(
                str(change.line), change.record, change.source_id, change.action,
                ", ".join(change.fields) if change.action == "update" else "",
            )  # fmt: skip
        console.print(table)
    records = sorted({c.record for c in report.changes})
    summary = Table(title=f"{'would change' if dry_run else 'imported'}: {path.name}")
    for column in ("record", "create", "update", "unchanged"):
        summary.add_column(column)
    for record in records:
        summary.add_row(
            record, *(str(report.count(record, a)) for a in ("create", "update", "unchanged"))
        )
    console.print(summary)
    if dry_run:
        console.print("dry run: nothing was written")
