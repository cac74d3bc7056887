"""``patient360 import ...``: bring records in from other systems (FHIR, HL7 v2 files,
CRM CSV). Registered in backend/cli.py with ``app.add_typer(import_app, name="import")``."""

from __future__ import annotations

import typer

from backend.interop.csv.cli import import_csv
from backend.interop.fhir.cli import import_fhir
from backend.interop.hl7v2.cli import import_hl7

import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)
import_app.command("fhir")(import_fhir)
import_app.command("hl7")(import_hl7)
import_app.command("csv")(import_csv)
