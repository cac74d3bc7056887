"""``patient360 mpi``: the batch matcher and training its parameters on this database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session

mpi_app = typer.Typer(help="Find, link and merge duplicate patients.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _bar() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@mpi_app.command("scan")
def scan_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Score and count, then roll everything back.")
    ] = False,
) -> None:
    """Match every patient against every other: keys, candidate pairs, scores, merges."""
    from backend.common.commands import database_errors, require_current_schema, settings_or_exit
    from backend.common.mixins import utcnow
    from backend.db import make_engine
    from backend.mpi.model_file import current_model
    from backend.mpi.scan import scan

    @database_errors
    def run() -> None:
        settings = settings_or_exit()
        require_current_schema(settings)
        engine = make_engine(settings.database_url)
        tasks: dict[str, object] = {}
        with _bar() as bar, Session(engine) as session:

            def progress(phase: str, done: int, total: int) -> None:
                label = "indexing patients" if phase == "keys" else "scoring pairs"
                if phase not in tasks:
                    tasks[phase] = bar.add_task(label, total=total)
                bar.update(tasks[phase], completed=done, total=total)  # type: ignore[arg-type]

            result = scan(
                session, model=current_model(), now=utcnow(), dry_run=dry_run, progress=progress
            )
            if not dry_run:
                session.commit()
        engine.dispose()
        s = result.summary
        console.print(
            f"{'dry run: ' if dry_run else ''}patients {result.patients:,}, "
            f"pairs compared {s.pairs_compared:,}, auto links {s.auto_links:,} "
            f"(merged {s.merges:,}), review {s.review:,}, "
            f"skipped not-duplicate {s.skipped_not_duplicate:,} "
            f"(seconds: keys {result.seconds_keys:.1f}, "
            f"candidate pairs {result.seconds_pairs:.1f}, "
            f"scoring {result.seconds_scoring:.1f}, merging {result.seconds_merging:.1f})"
        )

    run()


@mpi_app.command("train")
def train_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the model JSON (default: the settings')."),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=2, help="Train on at most this many patients (the first by id).")
    ] = 200_000,
) -> None:
    """Estimate the matcher's m and u probabilities (EM) and term frequencies here."""
    from backend.common.commands import database_errors, require_current_schema, settings_or_exit
    from backend.db import make_engine
    from backend.mpi.model import train
    from backend.mpi.model_file import current_model
    from backend.mpi.records import from_patients
    from backend.patients.models import Patient, PatientStatus

    @database_errors
    def run() -> None:
        settings = settings_or_exit()
        require_current_schema(settings)
        target = out or settings.mpi_model_file
        engine = make_engine(settings.database_url)
        with Session(engine) as session:
            ids = list(
                session.execute(
                    select(Patient.id)
                    .where(Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED)
                    .order_by(Patient.id)
                    .limit(limit)
                ).scalars()
            )
            records = [item.record for item in from_patients(session, ids).values()]
        engine.dispose()
        if len(records) < 2:
            err.print("[red]training needs at least two patients[/red]")
            raise typer.Exit(1)
        model = train(records, base=current_model())
        target.parent.mkdir(parents=True, exist_ok=True)
        model.save(target)
        console.print(f"trained on {len(records):,} patients; model written to {target}")

    run()
