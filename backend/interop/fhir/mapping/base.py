"""What every resource mapper shares: rows to upsert, reference resolution, value parsing.

A mapper turns one validated resource into :class:`Row` values keyed by (model,
source_system, source_id): the upsert key every table has. Foreign keys are UUIDs known
before anything is written (:class:`MapContext` pre-assigns them), so one Bundle's rows
link to each other whatever order its entries come in. A problem that makes the resource
unusable raises :class:`MappingError` with the field path, which rejects the batch; a
reference to something that cannot be found raises :class:`Unresolved`, which keeps the
resource raw instead (nothing is dropped).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from backend.common.types import Code
from backend.db import Base

E = TypeVar("E", bound=enum.Enum)


class MappingError(ValueError):
    """The resource is valid FHIR but cannot go into the record; ``path`` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class Unresolved(LookupError):  # a condition, not a failure
    """A reference the resource needs (its patient, its claim) points at nothing known."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(slots=True)
class Row:
    """Column values for one row. ``partial`` rows only update a row made elsewhere
    (a DiagnosticReport setting ``diagnostic_report_id`` on its results)."""

    model: type[Base]
    source_system: str
    source_id: str
    values: dict[str, Any]
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    resource_type: str
    source_id: str
    id: uuid.UUID


@dataclass(slots=True)
class MapContext:
    """Per-batch state: the source system, ids of every resource in it or already stored,
    and the bundle's ``fullUrl`` index for ``urn:uuid:`` and absolute references."""

    source_system: str
    ids: dict[tuple[str, str], uuid.UUID]  # (resourceType, source id) -> row id
    full_urls: dict[str, tuple[str, str]]  # fullUrl -> (resourceType, source id)
    lookup: Callable[[str, str], uuid.UUID | None]  # a stored row not in the batch
    ssn_key: bytes
    bundle_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def resolve(self, reference: Any, path: str) -> Target | None:
        """The target of a Reference (``urn:uuid:``, ``Type/id`` or absolute), or None
        when the reference is only a display/identifier or points at nothing known."""
        if not isinstance(reference, dict):
            return None
        ref = reference.get("reference")
        if not isinstance(ref, str) or not ref or ref.startswith("#"):
            return None
        key = self.full_urls.get(ref)
        if key is None:
            parts = ref.rstrip("/").split("/")
            if "_history" in parts:
                parts = parts[: parts.index("_history")]
            if len(parts) < 2:
                return None
            key = (parts[-2], parts[-1])
        found = self.ids.get(key)
        if found is None:
            found = self.lookup(*key)
            if found is None:
                return None
            self.ids[key] = found
        return Target(key[0], key[1], found)

    def new_id(self, resource_type: str, source_id: str) -> uuid.UUID:
        """A fresh id for a row the mapping creates beside the resource's own."""
        made = self.ids[(resource_type, source_id)] = uuid.uuid4()
        return made

    def require(self, reference: Any, path: str, *types: str) -> uuid.UUID:
        """A reference the resource cannot be stored without (its patient)."""
        target = self.resolve(reference, path)
        if target is None or (types and target.resource_type not in types):
            raise Unresolved(path)
        return target.id

    def optional(self, reference: Any, path: str, *types: str) -> uuid.UUID | None:
        target = self.resolve(reference, path)
        if target is None or (types and target.resource_type not in types):
            return None
        return target.id


def enum_of(kind: type[E], value: Any, path: str, aliases: Mapping[str, E] | None = None) -> E:
    """FHIR code -> our enum (hyphens become underscores); MappingError names the path."""
    if isinstance(value, str):
        if aliases and value in aliases:
            return aliases[value]
        try:
            return kind(value.replace("-", "_"))
        except ValueError:
            pass
    allowed = ", ".join(sorted([m.value.replace("_", "-") for m in kind] + list(aliases or ())))
    raise MappingError(path, f"unsupported code {value!r} (expected one of: {allowed})")


def optional_enum(
    kind: type[E], value: Any, path: str, aliases: Mapping[str, E] | None = None
) -> E | None:
    return None if value is None else enum_of(kind, value, path, aliases)


def parse_datetime(value: Any, path: str) -> datetime | None:
    """FHIR dateTime/instant -> aware UTC; a date (or year, year-month) is its midnight UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(path, "expected a dateTime string")
    text = value.strip()
    try:
        if len(text) == 4:
            return datetime(int(text), 1, 1, tzinfo=UTC)
        if len(text) == 7:
            return datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(path, "not a FHIR dateTime") from None
    if parsed.tzinfo is None:
        # FHIR requires a zone when there is a time; tolerate its absence as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(value: Any, path: str) -> date | None:
    moment = parse_datetime(value, path)
    if moment is None:
        return None
    if isinstance(value, str) and len(value) > 10:
        return date.fromisoformat(value[:10])
    return moment.date()


def parse_decimal(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise MappingError(path, "not a decimal") from None


def money(value: Any) -> Decimal:
    """A Money's value rounded to cents (the JSON keeps what was sent)."""
    if isinstance(value, dict) and value.get("value") is not None:
        return Decimal(str(value["value"])).quantize(Decimal("0.01"))
    return Decimal("0.00")


def first_coding(concept: Any) -> Code | None:
    """The primary coding of a CodeableConcept (or a bare Coding)."""
    if not isinstance(concept, dict):
        return None
    codings = concept.get("coding")
    if isinstance(codings, list) and codings:
        first = codings[0]
        return Code(first.get("system"), first.get("code"), first.get("display"))
    if "code" in concept:  # a Coding
        return Code(concept.get("system"), concept.get("code"), concept.get("display"))
    text = concept.get("text")
    return Code(None, None, text) if isinstance(text, str) else None


def concept_beyond(concept: Any) -> dict[str, Any] | None:
    """The whole CodeableConcept when one Code cannot hold it (the data-model rule):
    more than one coding, or a text that differs from the first display."""
    if not isinstance(concept, dict):
        return None
    codings = concept.get("coding") or []
    text = concept.get("text")
    display = codings[0].get("display") if codings else None
    if len(codings) > 1 or (text is not None and text != display) or not codings:
        return concept
    return None


def code_columns(prefix: str, concept: Any, path: str, *, required: bool) -> dict[str, Any]:
    """``{prefix}_system/_code/_display`` from a CodeableConcept."""
    code = first_coding(concept)
    if code is None or (required and code.code is None):
        if required:
            raise MappingError(path, "a coded value with a code is required")
        return {f"{prefix}_system": None, f"{prefix}_code": None, f"{prefix}_display": None}
    system = code.system
    if required and system is None:
        system = "urn:unknown"  # a code without a system: kept, flagged by its system
    return {
        f"{prefix}_system": system,
        f"{prefix}_code": code.code,
        f"{prefix}_display": (code.display or "")[:255] or None,
    }


def status_code(concept: Any) -> str | None:
    """The code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    code = first_coding(concept)
    return code.code if code else None


def text_of(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value[:limit]


def notes_text(notes: Any) -> str | None:
    """Annotation[] -> one text (the note column is free text)."""
    if not isinstance(notes, list):
        return None
    parts = [str(n["text"]) for n in notes if isinstance(n, dict) and n.get("text")]
    return "\n\n".join(parts) or None


def period(value: Any, path: str) -> tuple[datetime | None, datetime | None]:
    if not isinstance(value, dict):
        return None, None
    return (
        parse_datetime(value.get("start"), f"{path}.start"),
        parse_datetime(value.get("end"), f"{path}.end"),
    )


def display_of(concept: Any, limit: int) -> str | None:
    """The first coding's display (else the text), cut to a column's length."""
    code = first_coding(concept)
    if code is None:
        return None
    text = code.display or (concept.get("text") if isinstance(concept, dict) else None)
    return text[:limit] if isinstance(text, str) else None
