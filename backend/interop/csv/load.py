"""Load a CRM CSV export through a mapping: validate every row, then write all or nothing.

Every row is checked before anything is written, and every problem is reported by row
(the line number in the file) and column, without quoting the cell (it may be patient
data). With no problems, all rows are written in one transaction. A dry run runs the
same code and rolls back, so what it reports is exactly what a real run would change.

Records are upserted by (mapping system, row id): importing the same export again
changes nothing; a changed row updates its record. Patients are found by (mapping
system, contact id), else created with a CRM identifier.
"""

from __future__ import annotations

import csv
import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import backend.models  # noqa: F401  (every table: the records written link to others)
from backend.common.types import LevelOfCare
from backend.engagement.models import Communication
from backend.interop.csv.mapping import TARGETS, Mapping
from backend.interop.hl7v2.handlers.common import UPSERTED_KEY, e164, on_patient_upserted
from backend.journey.models import Admission, AdmissionStatus, Inquiry
from backend.mpi.hooks import patients_changed
from backend.patients.models import (
    ContactPoint,
    ContactSystem,
    IdentifierKind,
    Patient,
    PatientIdentifier,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class RowError:
    line: int  # line number in the file (the header is line 1)
    column: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column!r}: {self.problem}"


class CsvImportError(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was written")
        self.errors = errors


@dataclass(frozen=True)
class Change:
    line: int
    record: str  # Patient, Inquiry, Admission, Communication
    source_id: str
    action: str  # create | update | unchanged
    fields: tuple[str, ...] = ()  # the fields an update changes


@dataclass
class Report:
    rows: int = 0
    changes: list[Change] = field(default_factory=list)

    def count(self, record: str, action: str) -> int:
        return sum(1 for c in self.changes if c.record == record and c.action == action)


def _convert(mapping: Mapping, target: str, raw: str) -> Any:
    spec = TARGETS[target]
    text = raw.strip()
    if not text:
        return None
    text = mapping.values.get(target, {}).get(text.casefold(), text)
    if isinstance(spec.kind, type) and issubclass(spec.kind, enum.Enum):
        wanted = text.strip().lower().replace(" ", "_").replace("-", "_")
        allowed = [m.value for m in spec.kind]
        if wanted not in allowed:
            raise ValueError(f"not one of {', '.join(allowed)} (add a [values] entry)")
        return spec.kind(wanted)
    if spec.kind == "text":
        if len(text) > spec.max_length:
            raise ValueError(f"longer than {spec.max_length} characters")
        return text
    if spec.kind == "int":
        if not re.fullmatch(r"\d{1,9}", text):
            raise ValueError("not a whole number")
        return int(text)
    if spec.kind == "date":
        try:
            if mapping.date_format:
                return datetime.strptime(text, mapping.date_format).date()
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not a date ({mapping.date_format or 'YYYY-MM-DD'})") from None
    if spec.kind == "datetime":
        try:
            moment = (
                datetime.strptime(text, mapping.datetime_format)
                if mapping.datetime_format
                else datetime.fromisoformat(text)
            )
        except ValueError:
            expected = mapping.datetime_format or "ISO 8601"
            raise ValueError(f"not a date and time ({expected})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=mapping.timezone)
        return moment
    if spec.kind == "phone":
        number = e164(text)
        if number is None:
            raise ValueError("not a phone number")
        return number
    if spec.kind == "email":
        if not _EMAIL.match(text):
            raise ValueError("not an e-mail address")
        return text.lower()
    raise AssertionError(spec.kind)


def read_rows(path: Path, mapping: Mapping) -> list[tuple[int, dict[str, Any]]]:
    """Every row as {field: value}; raises :class:`CsvImportError` listing every problem."""
    errors: list[RowError] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CsvImportError([RowError(0, "", f"cannot read the file: {exc.strerror}")]) from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in mapping.columns:
            if column not in header:
                errors.append(RowError(1, column, "the mapping names a column the file lacks"))
        if errors:
            raise CsvImportError(errors)
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            values: dict[str, Any] = {}
            for column, target in mapping.columns.items():
                try:
                    values[target] = _convert(mapping, target, row.get(column) or "")
                except ValueError as exc:
                    errors.append(RowError(line, column, str(exc)))
                    continue
                spec = TARGETS[target]
                if values[target] is None and mapping.record in spec.required_for:
                    errors.append(RowError(line, column, "required, but empty"))
            row_id = values.get("id")
            if isinstance(row_id, str):
                if row_id in seen:
                    column = mapping.column_for("id") or "id"
                    errors.append(RowError(line, column, f"same id as line {seen[row_id]}"))
                seen[row_id] = line
            rows.append((line, values))
    if errors:
        raise CsvImportError(errors)
    return rows


def _assign(change_fields: list[str], row: Any, name: str, value: Any) -> None:
    if getattr(row, name, None) != value:
        setattr(row, name, value)
        change_fields.append(name)


def _upsert(session: Session, model: type[Any], system: str, source_id: str) -> tuple[Any, bool]:
    found = session.scalars(
        select(model).where(model.source_system == system, model.source_id == source_id)
    ).first()
    if found is not None:
        return found, False
    row = model(id=uuid.uuid4(), source_system=system, source_id=source_id)
    session.add(row)
    return row, True


def _record(
    report: Report, line: int, record: str, row: Any, created: bool, changed: list[str]
) -> None:
    action = "create" if created else "update" if changed else "unchanged"
    report.changes.append(Change(line, record, row.source_id, action, tuple(changed)))


def _patient(
    session: Session, mapping: Mapping, line: int, values: dict[str, Any], report: Report
) -> tuple[Patient | None, list[RowError]]:
    contact_id = values["patient.id"]
    patient, created = _upsert(session, Patient, mapping.system, contact_id)
    changed: list[str] = []
    for name in ("given_name", "family_name", "birth_date", "sex"):
        value = values.get(f"patient.{name}")
        if value is not None:
            _assign(changed, patient, name, value)
    if created and not (patient.given_name and patient.family_name):
        column = mapping.column_for("patient.family_name") or mapping.column_for("patient.id")
        problem = "a new patient needs patient.given_name and patient.family_name"
        session.expunge(patient)  # never flushed half-made by a later query's autoflush
        return None, [RowError(line, column or "patient.id", problem)]
    session.flush()
    if created:
        session.add(
            PatientIdentifier(
                patient_id=patient.id, kind=IdentifierKind.CRM_ID, system=mapping.system,
                value=contact_id, source_system=mapping.system, source_id=f"{contact_id}|crm_id",
            )
        )  # fmt: skip
    for kind, system in (("phone", ContactSystem.PHONE), ("email", ContactSystem.EMAIL)):
        value = values.get(f"patient.{kind}")
        if value is None:
            continue
        point, new = _upsert(session, ContactPoint, mapping.system, f"{contact_id}|{kind}")
        point.patient_id, point.system = patient.id, system
        if new or point.value != value:
            point.value = value
            changed.append(kind)
    _record(report, line, "Patient", patient, created, changed)
    if created or changed:
        on_patient_upserted(session, patient.id)
    return patient, []


def _fields(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith(prefix + ".")}


def _inquiry(
    session: Session, mapping: Mapping, line: int, values: dict[str, Any], patient: Patient,
    report: Report,
) -> list[RowError]:  # fmt: skip
    inquiry, created = _upsert(session, Inquiry, mapping.system, values["id"])
    changed: list[str] = []
    _assign(changed, inquiry, "patient_id", patient.id)
    for name, value in _fields(values, "inquiry").items():
        if value is not None or not created:
            _assign(changed, inquiry, name, value)
    _assign(changed, inquiry, "effective_at", inquiry.inquiry_at)
    _record(report, line, "Inquiry", inquiry, created, [c for c in changed if c != "patient_id"])
    admission_values = _fields(values, "admission")
    if admission_values.get("admitted_at") is None:
        return []
    if not admission_values.get("program"):
        column = mapping.column_for("admission.program") or mapping.column_for("id") or "id"
        return [RowError(line, column, "an admitted row needs admission.program")]
    session.flush()
    admission, new = _upsert(session, Admission, mapping.system, values["id"])
    changed = []
    _assign(changed, admission, "patient_id", patient.id)
    _assign(changed, admission, "inquiry_id", inquiry.id)
    _assign(changed, admission, "admitted_at", admission_values["admitted_at"])
    _assign(changed, admission, "effective_at", admission_values["admitted_at"])
    _assign(changed, admission, "program", admission_values["program"])
    level = admission_values.get("level_of_care") or LevelOfCare.UNKNOWN
    _assign(changed, admission, "level_of_care", level)
    ended = admission_values.get("ended_at")
    _assign(changed, admission, "ended_at", ended)
    status = AdmissionStatus.FINISHED if ended else AdmissionStatus.ACTIVE
    _assign(changed, admission, "status", status)
    skip = {"patient_id", "inquiry_id", "effective_at"}
    _record(report, line, "Admission", admission, new, [c for c in changed if c not in skip])
    return []


def _communication(
    session: Session, mapping: Mapping, line: int, values: dict[str, Any], patient: Patient,
    report: Report,
) -> list[RowError]:  # fmt: skip
    message, created = _upsert(session, Communication, mapping.system, values["id"])
    changed: list[str] = []
    _assign(changed, message, "patient_id", patient.id)
    for name, value in _fields(values, "communication").items():
        if value is not None or not created:
            _assign(changed, message, name, value)
    _assign(changed, message, "effective_at", message.sent_at)
    _record(
        report, line, "Communication", message, created, [c for c in changed if c != "patient_id"]
    )
    return []


def load_csv(*, session: Session, path: Path, mapping: Mapping, dry_run: bool = False) -> Report:
    """Validate and write every row (in a SAVEPOINT, rolled back on a dry run or error)."""
    rows = read_rows(path, mapping)
    report = Report(rows=len(rows))
    errors: list[RowError] = []
    nested = session.begin_nested()
    session.info[UPSERTED_KEY] = []
    try:
        for line, values in rows:
            patient, problems = _patient(session, mapping, line, values, report)
            if patient is None:
                errors += problems
                continue
            handler = _inquiry if mapping.record == "inquiry" else _communication
            errors += handler(session, mapping, line, values, patient, report)
        if not errors:
            session.flush()
            if not dry_run:
                patients_changed(session, session.info.get(UPSERTED_KEY, []))
    except BaseException:
        nested.rollback()
        raise
    finally:
        session.info.pop(UPSERTED_KEY, None)
    if errors or dry_run:
        nested.rollback()
    else:
        nested.commit()
    if errors:
        raise CsvImportError(errors)
    return report
