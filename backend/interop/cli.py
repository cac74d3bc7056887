"""``patient360 import ...``: bring records in from other systems (FHIR, HL7 v2 files,
CRM CSV); ``patient360 export ...``: send them out (FHIR bulk NDJSON). Registered in
backend/cli.py with ``app.add_typer(import_app, name="import")`` and ``export_app``."""

from __future__ import annotations

import typer

from backend.interop.csv.cli import import_csv
from backend.interop.fhir.cli import import_fhir
from backend.interop.fhir.export_cli import export_fhir
from backend.interop.hl7v2.cli import import_hl7

import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)
import_app.command("fhir")(import_fhir)
import_app.command("hl7")(import_hl7)
import_app.command("csv")(import_csv)

export_app = typer.Typer(help="Export records to files.", no_args_is_help=True)
export_app.command("fhir")(export_fhir)
