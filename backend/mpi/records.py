"""Match records for many patients at once: four queries whatever the number of patients.

The matcher and ``mpi scan`` read patients in batches; loading each patient's phones,
addresses and identifiers one by one would cost a query per patient (N+1). Here the
patients, their contact points, addresses and identifiers come in one query each per
chunk of ids, and :func:`raw_fields` is the one place that says which columns feed the
matcher (also hashed into the fingerprint the "not a duplicate" rule compares).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
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


@dataclass(frozen=True, slots=True)
class Loaded:
    """A patient's match record, its hashed blocking keys and its data fingerprint."""

    patient_id: uuid.UUID
    record: normalize.MatchRecord
    keys: frozenset[Key]
    fingerprint: str


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
    record = normalize.from_fields(**raw)
    return Loaded(
        patient_id=patient_id,
        record=record,
        keys=hashed_keys(normalize.blocking_keys(record)),
        fingerprint=fingerprint(raw),
    )


def from_patients(
    session: Session, patient_ids: Iterable[uuid.UUID], *, live_only: bool = True
) -> dict[uuid.UUID, Loaded]:
    """Match records of these patients (with ``live_only``, merged and deleted ones are
    left out: they are nobody's duplicate)."""
    ids = sorted(set(patient_ids))
    found: dict[uuid.UUID, Loaded] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        query = select(
            Patient.id,
            Patient.given_name,
            Patient.middle_name,
            Patient.family_name,
            Patient.birth_date,
            Patient.sex,
            Patient.name_suffix,
        ).where(Patient.id.in_(part))
        if live_only:
            query = query.where(
                Patient.deleted_at.is_(None), Patient.status != PatientStatus.MERGED
            )
        patients = session.execute(query).all()
        live = [p.id for p in patients]
        if not live:
            continue
        contacts: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in session.execute(
            select(ContactPoint.patient_id, ContactPoint.system, ContactPoint.value).where(
                ContactPoint.patient_id.in_(live), ContactPoint.deleted_at.is_(None)
            )
        ):
            contacts[row.patient_id].append(row)
        addresses: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for address in session.execute(
            select(
                Address.patient_id,
                Address.id,
                Address.use,
                Address.period_end,
                Address.line1,
                Address.line2,
                Address.city,
                Address.postal_code,
            ).where(Address.patient_id.in_(live), Address.deleted_at.is_(None))
        ):
            addresses[address.patient_id].append(address)
        identifiers: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for ident in session.execute(
            select(
                PatientIdentifier.patient_id,
                PatientIdentifier.system,
                PatientIdentifier.kind,
                PatientIdentifier.value,
                PatientIdentifier.value_hash,
            ).where(PatientIdentifier.patient_id.in_(live), PatientIdentifier.deleted_at.is_(None))
        ):
            identifiers[ident.patient_id].append(ident)
        for p in patients:
            raw = raw_fields(p, contacts[p.id], addresses[p.id], identifiers[p.id])
            found[p.id] = load(raw, p.id)
    return found


def refresh_keys(
    session: Session, patient_ids: Iterable[uuid.UUID], *, now: datetime
) -> set[uuid.UUID]:
    """Bring these patients' blocking keys up to date after rows moved between them (a
    merge or unmerge): live ones are re-indexed, merged or deleted ones lose their keys.
    Returns the ids whose matching data changed."""
    ids = set(patient_ids)
    loaded = from_patients(session, ids)
    drop_keys(session, ids - set(loaded))
    return sync_keys(
        session,
        {pid: item.keys for pid, item in loaded.items()},
        {pid: item.fingerprint for pid, item in loaded.items()},
        now=now,
    )
