"""What the patient services hand to transports: frozen views, already masked.

Field names are the model's column names (the policy's ``RecordType.field`` names), so a
:class:`~backend.access.masking.Withheld` entry names a field of the view it sits on.
Every maskable field is optional: ``None`` with a ``withheld`` entry means "you may not
see this", ``None`` without one means "there is nothing". ``id`` is never masked: the
caller asked for it (or found it through search) and needs it to ask again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from backend.access.listing import build_view, view_fields
from backend.access.masking import Withheld


@dataclass(frozen=True, slots=True)
class ContactPointView:
    id: uuid.UUID
    system: str | None = None
    value: str | None = None
    use: str | None = None
    rank: int | None = None
    verified: bool | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressView:
    id: uuid.UUID
    use: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class EmergencyContactView:
    """Someone to call for the patient (not one of the patient's own channels)."""

    id: uuid.UUID
    name: str | None = None
    relationship_to_patient: str | None = None
    phone: str | None = None
    email: str | None = None
    is_primary: bool | None = None
    effective_at: datetime | None = None
    version: int | None = None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PatientView:
    """A patient's demographics and how to reach them, as the caller may see them.

    ``withheld`` also names whole categories the caller may not read at all (e.g.
    ``conditions`` for front desk), so a transport can say "withheld" instead of "none".
    """

    id: uuid.UUID
    given_name: str | None = None
    middle_name: str | None = None
    family_name: str | None = None
    preferred_name: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    gender_identity: str | None = None
    pronouns: str | None = None
    language: str | None = None
    interpreter_needed: bool | None = None
    status: str | None = None
    deceased_at: datetime | None = None
    version: int | None = None
    contact_points: tuple[ContactPointView, ...] = ()
    addresses: tuple[AddressView, ...] = ()
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True, slots=True)
class PatientPage:
    """One page of search results: opaque cursors, oldest-first stable order."""

    patients: tuple[PatientView, ...]
    cursors: tuple[str, ...]
    has_next_page: bool
    has_previous_page: bool


__all__ = [
    "AddressView",
    "ContactPointView",
    "EmergencyContactView",
    "PatientPage",
    "PatientView",
    "build_view",
    "view_fields",
]
