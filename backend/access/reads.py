"""Reads of one request, collected so each patient touched gets one audit event.

A GraphQL request for a patient's 360 reads several record types through several
services (the patient, then its conditions and appointments in batched loaders).
Writing an event per service call would scatter one look at a chart over many rows;
instead services note what they returned in a :class:`ReadLog` and the transport
writes it once at the end of the request (:meth:`ReadLog.flush`). Callers without a
request to collect into (a script, a portal page) pass ``log=None`` to
:func:`note_read` and the event is written at once.

Only names go in: record types, ``Type.field`` and ``Type.field:rule``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.masking import Withheld
from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.sensitivity import PatientAccess


@dataclass(slots=True)
class _Entry:
    outcome: AuditOutcome = AuditOutcome.SUCCESS
    record_types: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    masked: set[str] = field(default_factory=set)


@dataclass(slots=True)
class ReadLog:
    """What one request read, per patient (``None``: reads of no single patient)."""

    entries: dict[uuid.UUID | None, _Entry] = field(default_factory=dict)
    # What the record rules need about each patient (treating therapist, Part 2 consent,
    # treating team), decided once per request (a consent or a care-team change a
    # mutation records applies from the next request): asked per category, the Part 2
    # lookup cost a 12-category chart 24 statements, and the therapist and team rules
    # as EXISTS subqueries in every category's statement cost more time than the rest
    # of the access layer. See :meth:`patient_access`.
    _access: dict[uuid.UUID, PatientAccess] = field(default_factory=dict)
    # Whether each patient is in the caller's row scope, decided once per request: as a
    # subquery in every category's statement, the scope cost the 360 query more than the
    # rest of the access layer together (docs/performance.md). See :meth:`in_scope`.
    _scope: dict[uuid.UUID, bool] = field(default_factory=dict)

    def in_scope(
        self,
        patient_ids: Iterable[uuid.UUID],
        lookup: Callable[[list[uuid.UUID]], frozenset[uuid.UUID]],
    ) -> frozenset[uuid.UUID]:
        """The patients among ``patient_ids`` in the caller's row scope; ``lookup`` runs
        once per request for the patients not asked about before."""
        return self._decided(self._scope, patient_ids, lookup)

    def patient_access(
        self,
        patient_ids: Iterable[uuid.UUID],
        lookup: Callable[[list[uuid.UUID]], Mapping[uuid.UUID, PatientAccess]],
    ) -> dict[uuid.UUID, PatientAccess]:
        """The record-rule facts for each of ``patient_ids``; ``lookup`` runs once per
        request for the patients not asked about before."""
        ids = set(patient_ids)
        missing = sorted(ids - self._access.keys())
        if missing:
            found = lookup(missing)
            self._access.update((pid, found[pid]) for pid in missing)
        return {pid: self._access[pid] for pid in ids}

    @staticmethod
    def _decided(
        known: dict[uuid.UUID, bool],
        patient_ids: Iterable[uuid.UUID],
        lookup: Callable[[list[uuid.UUID]], frozenset[uuid.UUID]],
    ) -> frozenset[uuid.UUID]:
        ids = set(patient_ids)
        missing = sorted(ids - known.keys())
        if missing:
            found = lookup(missing)
            known.update((pid, pid in found) for pid in missing)
        return frozenset(pid for pid in ids if known[pid])

    def note(
        self,
        *,
        patient_id: uuid.UUID | None,
        record_type: str,
        fields: Iterable[str] = (),
        withheld: Iterable[Withheld] = (),
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
    ) -> None:
        entry = self.entries.setdefault(patient_id, _Entry())
        entry.record_types.add(record_type)
        entry.fields.update(f"{record_type}.{f}" for f in fields)
        entry.masked.update(f"{record_type}.{w.field}:{w.rule}" for w in withheld)
        if outcome is not AuditOutcome.SUCCESS:
            entry.outcome = outcome

    def flush(
        self,
        *,
        session: Session,
        principal: Principal,
        policy_version: str,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> list[AuditEvent]:
        """Write one ``read`` event per patient noted, then forget them."""
        events = [
            audit.record(
                session=session,
                principal=principal,
                action=AuditAction.READ,
                outcome=entry.outcome,
                patient_id=patient_id,
                record_types=entry.record_types,
                fields=entry.fields,
                masked_fields=entry.masked,
                policy_version=policy_version,
                request_id=request_id,
                now=now,
            )
            # Sorted so concurrent requests append in a stable order (and tests can read it).
            for patient_id, entry in sorted(self.entries.items(), key=lambda kv: str(kv[0]))
        ]
        self.entries.clear()
        return events


def note_read(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    log: ReadLog | None,
    patient_id: uuid.UUID | None,
    record_type: str,
    fields: Iterable[str] = (),
    withheld: Iterable[Withheld] = (),
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    now: datetime | None = None,
) -> None:
    """Note a read in ``log``, or write its audit event now when there is no log."""
    target = log if log is not None else ReadLog()
    target.note(
        patient_id=patient_id,
        record_type=record_type,
        fields=fields,
        withheld=withheld,
        outcome=outcome,
    )
    if log is None:
        target.flush(session=session, principal=principal, policy_version=policy.version, now=now)
