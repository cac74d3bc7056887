"""``patient360 export fhir --out DIR --user USERNAME``: bulk NDJSON of the records a user sees.

The command acts as the staff user named by ``--user`` (a person, or the service account
an API client acts as, like ``patient360 token``), capped to the ``fhir:export`` scope as
a token would be: it writes only what that user may read, masked fields left out and
labelled, and every patient exported is audited as one ``export`` event. A ``--patient``
id that is unknown or out of scope is an error (exit 1), audited as a ``not_found``
refusal without the id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)
EXPORT_SCOPE = "fhir:export"


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected a date (YYYY-MM-DD) or an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ids(values: list[str] | None) -> list[uuid.UUID] | None:
    if not values:
        return None
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise typer.BadParameter("--patient takes patient ids (UUIDs)") from None


def export_fhir(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the .ndjson files to.")],
    user: Annotated[
        str, typer.Option("--user", help="Staff user (or API client account) the export acts as.")
    ],
    patient: Annotated[
        list[str] | None, typer.Option("--patient", help="Only this patient id; repeat for more.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only records recorded or changed from this date on."),
    ] = None,
) -> None:
    """Write the records USER may read as FHIR R4 bulk NDJSON, one file per resource type."""
    from sqlalchemy.orm import Session

    from backend.access.policy import policy_store
    from backend.auth.principals import named_staff_principal
    from backend.db import make_engine
    from backend.interop.fhir.bulk import export_ndjson
    from backend.settings import get_settings

    settings = get_settings()
    patient_ids = _ids(patient)
    since_at = _since(since)
    if out.exists() and any(out.glob("*.ndjson")):
        err.print(f"[red]{out} already holds .ndjson files; choose an empty folder[/red]")
        raise typer.Exit(2)
    engine = make_engine(settings.database_url)
    policy = policy_store(settings.policies_dir).current()
    run = uuid.uuid4().hex
    try:
        with Session(engine) as session:
            principal = named_staff_principal(
                session=session,
                username=user,
                token_id=f"cli-export-{run}",
                scopes=frozenset({EXPORT_SCOPE}),
            )
            if principal is None:
                err.print(f"[red]no active staff user named {user!r}[/red]")
                raise typer.Exit(2)
            columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            total = len(set(patient_ids)) if patient_ids is not None else None
            with Progress(*Progress.get_default_columns()[:1], *columns, console=err) as bar:
                task = bar.add_task("patients", total=total)
                summary = export_ndjson(
                    session=session,
                    principal=principal,
                    policy=policy,
                    out=out,
                    patient_ids=patient_ids,
                    since=since_at,
                    request_id=f"cli-export-{run}",
                    on_page=lambda n: bar.advance(task, n),
                    commit=session.commit,
                )
            session.commit()
    finally:
        engine.dispose()
    table = Table(title=f"FHIR export to {out}")
    table.add_column("resource type")
    table.add_column("resources", justify="right")
    table.add_column("file")
    for kind, count in sorted(summary.counts.items()):
        table.add_row(kind, str(count), summary.files[kind].name)
    console.print(table)
    console.print(f"patients exported: {summary.patients}")
    if summary.labelled:
        console.print(f"resources with withheld fields (labelled REDACTED): {summary.labelled}")
    if summary.not_found:
        # The same answer for unknown and out-of-scope ids, as the API gives: which one it
        # was is not the caller's to learn. The refusals are in the audit trail.
        err.print(
            f"[red]error: {summary.not_found} of the {len(set(patient_ids or ()))} patient "
            f"id(s) asked for were not found or are not in {user!r}'s scope; nothing was "
            "written for them[/red]"
        )
        raise typer.Exit(1)
