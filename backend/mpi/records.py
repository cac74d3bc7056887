"""Match records for many patients at once: two queries whatever the number of patients.

The matcher and ``mpi scan`` read patients in batches; loading each patient's phones,
addresses and identifiers one by one would cost a query per patient (N+1). Here the
patients come in one query per chunk of ids and their contact points, addresses and
identifiers in one more (a UNION ALL), and :func:`raw_fields` is the one place that
says which columns feed the matcher (also hashed into the fingerprint the "not a
duplicate" rule compares).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, literal, null, select, union_all
from sqlalchemy.orm import Session

from backend.mpi import normalize
from backend.mpi.keys import CHUNK, Key, drop_keys, hashed_keys, sync_keys
from backend.patients.models import (
    Address,
    AddressUse,
    ContactPoint,
    ContactSystem,
    IdentifierKind,
    Patient,
    PatientIdentifier,
    PatientStatus,
)

PHONE_SYSTEMS = (ContactSystem.PHONE, ContactSystem.SMS, ContactSystem.WHATSAPP)


class Loaded:
    """A patient's match record, its hashed blocking keys and its data fingerprint.

    The keys and the fingerprint are worked out when first asked for: a candidate is
    only scored (about forty of them per look-up at a million patients), and building
    keys it never needs cost a fifth of building its record."""

    __slots__ = ("_fingerprint", "_keys", "_raw", "patient_id", "record")

    def __init__(
        self, patient_id: uuid.UUID, record: normalize.MatchRecord, raw: dict[str, Any]
    ) -> None:
        self.patient_id, self.record, self._raw = patient_id, record, raw
        self._keys: frozenset[Key] | None = None
        self._fingerprint: str | None = None

    @property
    def keys(self) -> frozenset[Key]:
        if self._keys is None:
            self._keys = hashed_keys(normalize.blocking_keys(self.record))
        return self._keys

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self._raw)
        return self._fingerprint

    def warm(self) -> None:
        """Work out the keys and fingerprint now (before a lock is taken, say)."""
        _ = self.keys, self.fingerprint

    def _identity(self) -> tuple[object, ...]:
        return (self.patient_id, self.record, self.keys, self.fingerprint)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loaded) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((self.patient_id, self.fingerprint))

    def __repr__(self) -> str:
        return f"Loaded({self.patient_id}, {self.record!r})"


def _current_address(addresses: Sequence[Any]) -> Any | None:
    """The address the matcher compares: a current home address if there is one."""
    current = [a for a in addresses if a.use is not AddressUse.OLD and a.period_end is None]
    ordered = sorted(current or addresses, key=lambda a: (a.use is not AddressUse.HOME, a.id))
    return ordered[0] if ordered else None


def raw_fields(
    patient: Any,
    contacts: Sequence[Any],
    addresses: Sequence[Any],
    identifiers: Sequence[Any],
) -> dict[str, Any]:
    """The values the matcher reads, as ``normalize.from_fields`` takes them."""
    address = _current_address(addresses)
    ssn = sorted(i.value_hash for i in identifiers if i.kind is IdentifierKind.SSN and i.value_hash)
    return {
        "given": patient.given_name,
        "middle": patient.middle_name,
        "family": patient.family_name,
        "suffix": patient.name_suffix,
        "birth_date": patient.birth_date,
        "sex": patient.sex.value if patient.sex is not None else None,
        "phones": sorted(c.value for c in contacts if c.system in PHONE_SYSTEMS),
        "emails": sorted(c.value for c in contacts if c.system is ContactSystem.EMAIL),
        "address_lines": [x for x in (address.line1, address.line2) if x] if address else [],
        "locality": address.city if address else None,
        "postcode": address.postal_code if address else None,
        # SSNs are stored only as a keyed hash: equal hashes are equal numbers.
        "national_id": ssn[0] if ssn else None,
        "identifiers": sorted(
            (i.system, i.value) for i in identifiers if i.value and i.kind is not IdentifierKind.SSN
        ),
    }


def fingerprint(raw: dict[str, Any]) -> str:
    text = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def load(raw: dict[str, Any], patient_id: uuid.UUID) -> Loaded:
    return Loaded(patient_id, normalize.from_fields(**raw), raw)


@dataclass(frozen=True, slots=True)
class _Contact:
    system: ContactSystem
    value: str


@dataclass(frozen=True, slots=True)
class _Address:
    id: str  # as text: only ordered, never looked up
    use: AddressUse
    period_end: str | None
    line1: str | None
    line2: str | None
    city: str | None
    postal_code: str | None


@dataclass(frozen=True, slots=True)
class _Identifier:
    system: str
    kind: IdentifierKind
    value: str | None
    value_hash: str | None


PATIENT_COLUMNS = (
    Patient.id,
    Patient.given_name,
    Patient.middle_name,
    Patient.family_name,
    Patient.birth_date,
    Patient.sex,
    Patient.name_suffix,
)


def _text(column: Any) -> Any:
    return cast(column, String)


def _none() -> Any:
    return cast(null(), String)


IdRange = tuple[uuid.UUID, uuid.UUID]  # first and last id, both included


def _of(column: Any, by_range: bool) -> Any:
    if by_range:
        return column.between(bindparam("lo"), bindparam("hi"))
    return column.in_(bindparam("ids", expanding=True))


@functools.cache
def _children_query(by_range: bool) -> Any:
    """Phones and e-mails, addresses and identifiers of some patients (``ids``, or every
    patient from ``lo`` to ``hi``) in one UNION ALL (one round trip, not three): every
    column as text, told apart by ``source``. Built once: building and keying the
    statement again for each call cost more than the query (a merge makes two)."""
    contacts = select(
        ContactPoint.patient_id,
        literal("c", String).label("source"),
        _text(ContactPoint.system).label("c1"),
        _text(ContactPoint.value).label("c2"),
        _none().label("c3"),
        _none().label("c4"),
        _none().label("c5"),
        _none().label("c6"),
        _none().label("c7"),
    ).where(_of(ContactPoint.patient_id, by_range), ContactPoint.deleted_at.is_(None))
    addresses = select(
        Address.patient_id,
        literal("a", String),
        _text(Address.id),
        _text(Address.use),
        _text(Address.period_end),
        _text(Address.line1),
        _text(Address.line2),
        _text(Address.city),
        _text(Address.postal_code),
    ).where(_of(Address.patient_id, by_range), Address.deleted_at.is_(None))
    identifiers = select(
        PatientIdentifier.patient_id,
        literal("i", String),
        _text(PatientIdentifier.system),
        _text(PatientIdentifier.kind),
        _text(PatientIdentifier.value),
        _text(PatientIdentifier.value_hash),
        _none(),
        _none(),
        _none(),
    ).where(_of(PatientIdentifier.patient_id, by_range), PatientIdentifier.deleted_at.is_(None))
    return union_all(contacts, addresses, identifiers)


def _children(session: Session, ids: Sequence[uuid.UUID] | IdRange) -> Any:
    if isinstance(ids, tuple):
        return session.execute(_children_query(True), {"lo": ids[0], "hi": ids[1]})
    return session.execute(_children_query(False), {"ids": list(ids)})


def loaded_from_rows(
    session: Session, patients: Sequence[Any], *, between: IdRange | None = None
) -> dict[uuid.UUID, Loaded]:
    """Match records for patient rows with :data:`PATIENT_COLUMNS` already read (the
    matcher's candidate query returns them): their contact points, addresses and
    identifiers come in one query per chunk. ``between``: the rows are the live
    patients of this id range (the scan reads them so), and their children come in one
    query by range, whatever their number (an IN list of hundreds of ids is slow to
    send and to plan)."""
    found: dict[uuid.UUID, Loaded] = {}
    size = len(patients) if between is not None else CHUNK
    for start in range(0, len(patients), max(size, 1)):
        part = patients[start : start + size]
        contacts: dict[uuid.UUID, list[_Contact]] = defaultdict(list)
        addresses: dict[uuid.UUID, list[_Address]] = defaultdict(list)
        identifiers: dict[uuid.UUID, list[_Identifier]] = defaultdict(list)
        for row in _children(session, between or [p.id for p in part]):
            pid, source, c1, c2, c3, c4, c5, c6, c7 = row
            if source == "c":
                contacts[pid].append(_Contact(ContactSystem(c1), c2))
            elif source == "a":
                addresses[pid].append(_Address(c1, AddressUse(c2), c3, c4, c5, c6, c7))
            else:
                identifiers[pid].append(_Identifier(c1, IdentifierKind(c2), c3, c4))
        for p in part:
            raw = raw_fields(p, contacts[p.id], addresses[p.id], identifiers[p.id])
            found[p.id] = load(raw, p.id)
    return found


def from_patients(
    session: Session, patient_ids: Iterable[uuid.UUID], *, live_only: bool = True
) -> dict[uuid.UUID, Loaded]:
    """Match records of these patients (with ``live_only``, merged and deleted ones are
    left out: they are nobody's duplicate)."""
    ids = sorted(set(patient_ids))
    found: dict[uuid.UUID, Loaded] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(_patients_query(live_only), {"ids": ids[start : start + CHUNK]})
        found.update(loaded_from_rows(session, rows.all()))
    return found


@functools.cache
def _patients_query(live_only: bool) -> Any:
    """Built once, as :func:`_children_query`."""
    query = select(*PATIENT_COLUMNS).where(Patient.id.in_(bindparam("ids", expanding=True)))
    if live_only:
        query = query.where(Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED)
    return query


def refresh_keys(
    session: Session, patient_ids: Iterable[uuid.UUID], *, now: datetime
) -> set[uuid.UUID]:
    """Bring these patients' blocking keys up to date after rows moved between them (a
    merge or unmerge): live ones are re-indexed, merged or deleted ones lose their keys.
    Returns the ids whose matching data changed."""
    ids = set(patient_ids)
    loaded = from_patients(session, ids)
    drop_keys(session, ids - set(loaded))
    return sync_loaded(session, loaded, now=now)


def sync_loaded(
    session: Session,
    loaded: Mapping[uuid.UUID, Loaded],
    *,
    now: datetime,
    new: bool = False,
    between: tuple[uuid.UUID, uuid.UUID] | None = None,
) -> set[uuid.UUID]:
    """Store these match records' blocking keys and fingerprints, writing only what
    differs (:func:`~backend.mpi.keys.sync_keys`); the ids whose matching data changed."""
    return sync_keys(
        session,
        {pid: item.keys for pid, item in loaded.items()},
        {pid: item.fingerprint for pid, item in loaded.items()},
        now=now,
        new=new,
        between=between,
    )
