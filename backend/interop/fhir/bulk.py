"""Bulk NDJSON export (FHIR Bulk Data style): one file per resource type, one resource a line.

The same read path as ``Patient/$everything`` (:func:`exporter.record_resources`, through
the access layer), a page of patients at a time: patient ids are paged by key, each page
is read, written and audited (one ``export`` event per patient, names of record types and
fields only) and committed before the next, so memory holds one page whatever the size of
the database. The files re-import with ``patient360 import fhir DIR``: the reader takes
``Type.ndjson`` files in dependency order (see ``fhir_map.IMPORT_ORDER``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditOutcome
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.access.scoping import visible_patients
from backend.access.writes import audit_refusal
from backend.common.mixins import utcnow
from backend.interop.fhir.exporter import export_events, patient_resource, record_resources
from backend.interop.fhir.patient_parts import patient_parts
from backend.patients.models import Patient
from backend.patients.service import get_patients

PAGE = 100
"""Patients read per page: large enough to batch the queries, small enough for memory."""
REFUSED_OPERATION = "Patient.export"
"""What a refused id asked for, as the audit trail names it (the API's refusals name
their mutation the same way, ``Mutation.createTask``)."""


@dataclass(slots=True)
class BulkSummary:
    counts: Counter[str] = field(default_factory=Counter)  # resourceType -> lines written
    patients: int = 0
    not_found: int = 0  # ids asked for that are unknown or not the caller's to see
    labelled: int = 0  # resources with a field withheld from the caller (meta.security)
    files: dict[str, Path] = field(default_factory=dict)


def patient_pages(
    session: Session,
    *,
    principal: Principal,
    now: datetime,
    patient_ids: Sequence[uuid.UUID] | None = None,
    page: int = PAGE,
) -> Iterator[list[uuid.UUID]]:
    """Ids of the patients the caller may see, a page at a time, by key (no offset scans,
    no list of every patient)."""
    last: uuid.UUID | None = None
    while True:
        query = select(Patient.id).where(visible_patients(principal=principal, now=now))
        if patient_ids is not None:
            query = query.where(Patient.id.in_(sorted(set(patient_ids))))
        if last is not None:
            query = query.where(Patient.id > last)
        ids = list(session.scalars(query.order_by(Patient.id).limit(page)))
        if not ids:
            return
        yield ids
        last = ids[-1]


def export_ndjson(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    out: Path,
    patient_ids: Sequence[uuid.UUID] | None = None,
    since: datetime | None = None,
    request_id: str | None = None,
    page: int = PAGE,
    on_page: Callable[[int], None] | None = None,
    commit: Callable[[], None] | None = None,
) -> BulkSummary:
    """Write the caller's view of the patients' records under ``out``.

    Every page's audit events are in ``session``; ``commit`` (when given) is called after
    each page so what has left the system is on record even if a later page fails.
    ``since`` keeps records recorded or changed from then on; the Patient resources are
    always written, as the records' references need them on re-import.
    Each id in ``patient_ids`` that is unknown or out of scope is audited as a
    ``not_found`` refusal without the id (as the API audits a refused mutation): which
    ids were probed stays out of the trail, that something was refused does not.
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = BulkSummary()
    now = utcnow()
    exported: set[uuid.UUID] = set()
    with ExitStack() as files:
        handles: dict[str, IO[bytes]] = {}

        def write(resource: dict[str, object]) -> None:
            kind = str(resource["resourceType"])
            handle = handles.get(kind)
            if handle is None:
                path = out / f"{kind}.ndjson"
                handle = handles[kind] = files.enter_context(path.open("wb"))
                summary.files[kind] = path
            handle.write(orjson.dumps(resource) + b"\n")
            summary.counts[kind] += 1
            if "meta" in resource:
                summary.labelled += 1

        for ids in patient_pages(
            session, principal=principal, now=now, patient_ids=patient_ids, page=page
        ):
            log = ReadLog()
            views = get_patients(
                session=session, principal=principal, policy=policy, patient_ids=ids, log=log
            )
            found, _ = record_resources(
                session=session,
                principal=principal,
                policy=policy,
                patient_ids=list(views),
                log=log,
                now=now,
                since=since,
            )
            parts = patient_parts(
                session=session,
                principal=principal,
                policy=policy,
                patient_ids=list(views),
                log=log,
                now=now,
            )
            for patient_id, view in views.items():
                write(patient_resource(view, parts[patient_id]))
                for resource in found[patient_id]:
                    write(resource)
            export_events(session, principal, policy, log, request_id, now, client="fhir-bulk")
            summary.patients += len(views)
            exported.update(views)
            if commit is not None:
                commit()
            if on_page is not None:
                on_page(len(ids))
    if patient_ids is not None:
        summary.not_found = len(set(patient_ids) - exported)
        for _ in range(summary.not_found):
            audit_refusal(
                session=session,
                principal=principal,
                policy=policy,
                action=AuditAction.EXPORT,
                outcome=AuditOutcome.NOT_FOUND,
                operation=REFUSED_OPERATION,
                request_id=request_id,
                now=now,
                client="fhir-bulk",
            )
        if summary.not_found and commit is not None:
            commit()
    return summary
