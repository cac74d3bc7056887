"""The mapping file of a CRM CSV export: which column fills which field.

A TOML file (see ``docs/examples/crm-inquiries.toml``)::

    [source]
    system = "acme-crm"        # source_system of every record the file creates
    record = "inquiry"         # inquiry (with optional admission) | communication
    datetime_format = "%m/%d/%Y %H:%M"   # optional; ISO 8601 otherwise
    date_format = "%m/%d/%Y"             # optional; ISO 8601 otherwise
    timezone = "America/Chicago"         # for times without an offset; default UTC

    [columns]                  # CSV column -> field
    "Lead ID" = "id"
    "Contact ID" = "patient.id"
    "Created" = "inquiry.inquiry_at"

    [values."inquiry.channel"] # CRM wording -> our value, for coded fields
    "Web Form" = "web_form"
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backend.common.types import LevelOfCare
from backend.engagement.enums import CommunicationChannel, Direction
from backend.engagement.models import CommunicationStatus
from backend.journey.models import InquiryChannel, InquiryOutcome, Urgency
from backend.patients.models import AdministrativeSex

RECORDS = ("inquiry", "communication")


@dataclass(frozen=True)
class Target:
    """A field a column may fill: its kind (text, date, datetime, int, phone, email or
    an enum) and, for text, its length limit."""

    kind: str | type[enum.Enum]
    max_length: int = 0
    required_for: tuple[str, ...] = ()  # the record kinds that cannot do without it


TARGETS: dict[str, Target] = {
    "id": Target("text", 128, RECORDS),
    "patient.id": Target("text", 128, RECORDS),
    "patient.given_name": Target("text", 100),
    "patient.family_name": Target("text", 100),
    "patient.birth_date": Target("date"),
    "patient.sex": Target(AdministrativeSex),
    "patient.phone": Target("phone"),
    "patient.email": Target("email"),
    "inquiry.inquiry_at": Target("datetime", required_for=("inquiry",)),
    "inquiry.channel": Target(InquiryChannel, required_for=("inquiry",)),
    "inquiry.reason_text": Target("text", 10_000),
    "inquiry.urgency": Target(Urgency),
    "inquiry.outcome": Target(InquiryOutcome),
    "inquiry.outcome_reason": Target("text", 10_000),
    "inquiry.notes": Target("text", 10_000),
    "inquiry.insurance_mentioned": Target("text", 200),
    "inquiry.referral_detail": Target("text", 10_000),
    "inquiry.caller_name": Target("text", 200),
    "inquiry.caller_relationship": Target("text", 64),
    "inquiry.level_of_care_requested": Target(LevelOfCare),
    "inquiry.first_response_at": Target("datetime"),
    "inquiry.assessment_at": Target("datetime"),
    "inquiry.closed_at": Target("datetime"),
    "admission.admitted_at": Target("datetime"),
    "admission.ended_at": Target("datetime"),
    "admission.program": Target("text", 100),
    "admission.level_of_care": Target(LevelOfCare),
    "communication.sent_at": Target("datetime", required_for=("communication",)),
    "communication.channel": Target(CommunicationChannel, required_for=("communication",)),
    "communication.direction": Target(Direction, required_for=("communication",)),
    "communication.status": Target(CommunicationStatus),
    "communication.subject": Target("text", 255),
    "communication.body": Target("text", 100_000),
    "communication.duration_seconds": Target("int"),
}


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the key."""


@dataclass(frozen=True)
class Mapping:
    system: str
    record: str
    columns: dict[str, str]  # CSV column -> field
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> {crm: ours}
    datetime_format: str | None = None
    date_format: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def column_for(self, target: str) -> str | None:
        return next((c for c, t in self.columns.items() if t == target), None)


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise MappingError(f"{where}.{key} must be text")
    return value


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; :class:`MappingError` says which key is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read the mapping file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"the mapping file is not valid TOML: {exc}") from None
    source = data.get("source")
    if not isinstance(source, dict):
        raise MappingError("the mapping needs a [source] table")
    system = _text(source, "system", "source")
    if not system or len(system) > 64:
        raise MappingError("source.system is required (at most 64 characters)")
    record = _text(source, "record", "source")
    if record not in RECORDS:
        raise MappingError(f"source.record must be one of {', '.join(RECORDS)}")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError("the mapping needs a [columns] table (CSV column = field)")
    for column, target in columns.items():
        if target not in TARGETS:
            raise MappingError(f"columns.{column!r}: unknown field {target!r}")
        prefix = str(target).split(".")[0]
        if prefix in {"inquiry", "admission"} and record != "inquiry":
            raise MappingError(f"columns.{column!r}: {target} needs source.record = inquiry")
        if prefix == "communication" and record != "communication":
            raise MappingError(f"columns.{column!r}: {target} needs source.record = communication")
    mapped = list(columns.values())
    for target, spec in TARGETS.items():
        if record in spec.required_for and target not in mapped:
            raise MappingError(f"[columns] must map a column to {target}")
        if mapped.count(target) > 1:
            raise MappingError(f"[columns] maps two columns to {target}")
    values = data.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(v, dict) and k in TARGETS for k, v in values.items()
    ):
        raise MappingError("[values.FIELD] tables must name mapped fields")
    timezone_name = _text(source, "timezone", "source") or "UTC"
    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingError(f"source.timezone: unknown time zone {timezone_name!r}") from None
    return Mapping(
        system=system,
        record=record,
        columns={str(k): str(v) for k, v in columns.items()},
        values={k: {str(a).casefold(): str(b) for a, b in v.items()} for k, v in values.items()},
        datetime_format=_text(source, "datetime_format", "source"),
        date_format=_text(source, "date_format", "source"),
        timezone=zone,
    )
