"""Import FHIR batches into the record: validate everything, then upsert, all or nothing.

Per batch (one Bundle or one NDJSON file):

1. every entry is validated with the R4B models; any problem rejects the batch;
2. each resource's row id is found by (source system, id) or, for a Patient, by its MRN
   (identifier type MR with its system), else assigned, so references resolve in any
   order (``urn:uuid:`` full URLs, ``Type/id`` and absolute URLs);
3. mappers turn resources into rows; a mapping problem rejects the batch, a reference
   to nothing known keeps the resource raw (``unresolved_reference``);
4. rows are compared with what is stored: new rows are inserted in bulk, changed rows
   are updated (``version`` + 1) and their previous values kept as a ``superseded``
   RawResource, equal rows are left alone, so importing the same batch twice writes
   nothing.

The caller owns the transaction: :func:`import_batch` runs in a SAVEPOINT and rolls it
back when the batch fails, so earlier batches of the same command are unaffected.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.principal import Principal
from backend.common.mixins import utcnow
from backend.db import Base
from backend.interop.fhir import mapping
from backend.interop.fhir.mapping.base import MapContext, MappingError, Row, Unresolved
from backend.interop.fhir.mapping.common import sensitivity_of
from backend.interop.fhir.reader import Batch, Entry
from backend.interop.fhir.report import BatchReport, EntryResult, Problem
from backend.interop.fhir.validation import Validated, is_known_type, validate_batch
from backend.interop.fhir_map import FHIR_MODELS, KEPT_RAW
from backend.interop.models import RawReason, RawResource
from backend.mpi.hooks import patients_changed
from backend.patients.models import IdentifierKind, Patient, PatientIdentifier

UPSERTED_PATIENTS = "p360.fhir.upserted_patients"
"""``session.info`` key under which :func:`on_patient_upserted` collects patient ids."""
DEFAULT_SOURCE = "fhir"
CHUNK = 500

# Insert order: every foreign key points at a model earlier in the list.
WRITE_ORDER: tuple[str, ...] = (
    "organization",
    "staff_user",
    "patient",
    "contact_point",
    "address",
    "patient_identifier",
    "emergency_contact",
    "appointment",
    "encounter",
    "condition",
    "diagnostic_report",
    "observation",
    "procedure",
    "immunization",
    "medication",
    "allergy",
    "imaging_study",
    "clinical_note",
    "coverage",
    "invoice",
    "charge",
    "care_plan",
    "goal",
    "consent",
    "communication",
    "form_response",
    "raw_resource",
)


def on_patient_upserted(session: Session, patient_id: uuid.UUID) -> None:
    """The one place a created or changed patient is announced: the id is collected and
    :func:`import_batch` hands them all to the patient matcher before it commits."""
    found: list[uuid.UUID] = session.info.setdefault(UPSERTED_PATIENTS, [])
    if patient_id not in found:
        found.append(patient_id)


class _Invalid(Exception):
    pass


@dataclass(slots=True)
class _Planned:
    entry: Entry
    resource_type: str
    source_id: str
    rows: list[Row] = field(default_factory=list)
    raw: bool = False


def import_batch(
    *,
    session: Session,
    batch: Batch,
    ssn_key: bytes,
    source_system: str | None = None,
    principal: Principal | None = None,
    actor: str | None = None,
    now: datetime | None = None,
    validated: Validated | None = None,
) -> BatchReport:
    """Import one batch, all or nothing; the report says what happened or why not.
    ``validated``: the batch's validation problems when they were found elsewhere (a
    worker process validating the next file while this one is written)."""
    now = now or utcnow()
    report = BatchReport(label=batch.label, kind=batch.kind)
    ids = _resource_ids(batch, report, validated)
    if report.problems:
        _fail_all(batch, report)
        return report
    system = (source_system or _source_of(batch) or DEFAULT_SOURCE)[:64]
    report.source_system = system
    savepoint = session.begin_nested()
    session.info[UPSERTED_PATIENTS] = []
    try:
        stored: Prefetched = {}
        planned, resolved = _plan(session, batch, ids, system, ssn_key, report, stored)
        if report.problems:
            raise _Invalid
        outcomes = _write(session, planned, resolved, now, report, stored)
    except _Invalid:
        savepoint.rollback()
        _fail_all(batch, report)
        return report
    for plan in planned:
        outcome = "raw" if plan.raw else outcomes[id(plan)]
        report.counts[plan.resource_type].add(outcome)
        report.entries.append(
            EntryResult(plan.entry.index, plan.resource_type, plan.source_id, outcome)
        )
    report.patients_upserted = list(session.info.pop(UPSERTED_PATIENTS, []))
    patients_changed(session, report.patients_upserted, now=now)
    _audit(session, report, principal, actor, now)
    savepoint.commit()
    return report


def _fail_all(batch: Batch, report: BatchReport) -> None:
    report.counts.clear()
    report.entries.clear()
    for entry in batch.entries:
        report.counts[entry.resource_type or "unknown"].add("failed")


def _source_of(batch: Batch) -> str | None:
    """Bundle.meta.source, else the first meta.tag code (Synthea's ``synthea-5-2019``)."""
    if batch.meta_source:
        return batch.meta_source
    for entry in batch.entries:
        for tag in (entry.resource.get("meta") or {}).get("tag", []) or []:
            if isinstance(tag, dict) and tag.get("code"):
                return str(tag["code"])
    return None


def _resource_ids(batch: Batch, report: BatchReport, validated: Validated | None) -> dict[int, str]:
    """Validate every entry (unless done already); each resource's id (its own, or its
    urn:uuid fullUrl)."""
    ids: dict[int, str] = {}
    seen: set[tuple[str, str]] = set()
    found = validate_batch(batch) if validated is None else validated
    for entry in batch.entries:
        for path, message in found.get(entry.index, ()):
            report.problems.append(Problem(batch.label, entry.index, entry.full_url, path, message))
        rid = entry.resource.get("id")
        if not rid and entry.full_url and entry.full_url.startswith("urn:uuid:"):
            rid = entry.full_url.removeprefix("urn:uuid:")
        if not isinstance(rid, str) or not rid:
            report.problems.append(
                Problem(
                    batch.label,
                    entry.index,
                    entry.full_url,
                    f"{entry.resource_type}.id",
                    "a resource needs an id or a urn:uuid fullUrl",
                )
            )
            continue
        if (entry.resource_type, rid) in seen:
            report.problems.append(
                Problem(
                    batch.label,
                    entry.index,
                    entry.full_url,
                    f"{entry.resource_type}.id",
                    "the same resource appears twice in one batch",
                )
            )
        seen.add((entry.resource_type, rid))
        ids[entry.index] = rid[:128]
    return ids


def _model_for(resource_type: str) -> type[Base] | None:
    return FHIR_MODELS.get(resource_type) if resource_type in mapping.OWN_ROW else None


def _existing_ids(
    session: Session, model: type[Base], system: str, source_ids: Iterable[str]
) -> dict[str, uuid.UUID]:
    table: Table = model.__table__  # type: ignore[assignment]
    wanted = sorted(set(source_ids))
    found: dict[str, uuid.UUID] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(table.c.source_id, table.c.id).where(
                table.c.source_system == system, table.c.source_id.in_(chunk)
            )
        )
        found.update({sid: rid for sid, rid in rows})
    return found


def _match_by_mrn(session: Session, resource: dict[str, Any]) -> tuple[uuid.UUID, str, str] | None:
    """An existing patient with the same MRN (same system): (id, its source key)."""
    for ident in resource.get("identifier", []) or []:
        codings = ((ident.get("type") or {}).get("coding")) or [{}]
        if codings[0].get("code") != "MR" or not ident.get("system") or not ident.get("value"):
            continue
        # Two indexed look-ups (identifier by system+value, then the patient): SQLite
        # plans the joined form as a scan of every identifier of that kind.
        owners = session.scalars(
            select(PatientIdentifier.patient_id).where(
                PatientIdentifier.system == ident["system"],
                PatientIdentifier.value == ident["value"],
                PatientIdentifier.kind == IdentifierKind.MRN,
                PatientIdentifier.deleted_at.is_(None),
            )
        ).all()
        row = None
        if owners:
            row = session.execute(
                select(Patient.id, Patient.source_system, Patient.source_id)
                .where(Patient.id.in_(owners), Patient.deleted_at.is_(None))
                .order_by(Patient.recorded_at)
                .limit(1)
            ).first()
        if row is not None:
            return row[0], row[1], row[2]
    return None


Prefetched = dict[tuple[str, str], tuple[set[str], dict[str, dict[str, Any]]]]
"""(table, source system) -> (source ids asked for, stored rows found among them): what
planning read, so writing does not read the same rows again."""


def _plan(
    session: Session,
    batch: Batch,
    rids: dict[int, str],
    system: str,
    ssn_key: bytes,
    report: BatchReport,
    prefetched: Prefetched,
) -> tuple[list[_Planned], dict[tuple[str, str], uuid.UUID]]:
    by_model: dict[type[Base], list[tuple[str, str]]] = defaultdict(list)
    for entry in batch.entries:
        model = _model_for(entry.resource_type)
        if model is not None:
            by_model[model].append((entry.resource_type, rids[entry.index]))
        if entry.resource_type == "ExplanationOfBenefit":
            # Its contained Coverage is a row of its own under a derived key (see
            # map_eob): read with the batch's coverages, not looked up one EOB at a time.
            key = ("Coverage", f"{rids[entry.index]}/coverage")
            by_model[FHIR_MODELS["Coverage"]].append(key)
    ids: dict[tuple[str, str], uuid.UUID] = {}
    new: set[tuple[str, str]] = set()
    for model, keys in by_model.items():
        # Whole rows, not just ids: writing compares them with the new values.
        table: Table = model.__table__  # type: ignore[assignment]
        asked = {sid for _, sid in keys}
        rows = _stored(session, table, system, list(asked))
        prefetched[(table.name, system)] = (asked, rows)
        existing = {sid: row["id"] for sid, row in rows.items()}
        for rt, sid in keys:
            ids[(rt, sid)] = existing.get(sid) or uuid.uuid4()
            if sid not in existing:
                new.add((rt, sid))
    patient_keys: dict[str, tuple[str, str]] = {}
    for entry in batch.entries:
        key = ("Patient", rids.get(entry.index, ""))
        if entry.resource_type == "Patient" and key in new:
            match = _match_by_mrn(session, entry.resource)
            if match is not None:
                ids[key] = match[0]
                patient_keys[key[1]] = (match[1], match[2])
    full_urls = {e.full_url: (e.resource_type, rids[e.index]) for e in batch.entries if e.full_url}
    cache: dict[tuple[str, str], uuid.UUID | None] = {}

    def model_of(resource_type: str) -> type[Base] | None:
        return _model_for(resource_type) or (
            FHIR_MODELS.get(resource_type) if resource_type == "Organization" else None
        )

    # References to rows outside the batch (an NDJSON file of Conditions pointing at
    # stored patients): one query per type for the whole batch, not one per reference.
    wanted: dict[tuple[str, str], type[Base]] = {}
    for key in _references(batch, full_urls):
        model = model_of(key[0])
        if model is not None and key not in ids:
            wanted[key] = model
    outside: dict[type[Base], set[str]] = defaultdict(set)
    for (_, source_id), model in wanted.items():
        outside[model].add(source_id)
    stored = {model: _existing_ids(session, model, system, sids) for model, sids in outside.items()}
    cache.update({key: stored[model].get(key[1]) for key, model in wanted.items()})

    def lookup(resource_type: str, source_id: str) -> uuid.UUID | None:
        model = model_of(resource_type)
        if model is None:
            return None
        if (resource_type, source_id) not in cache:
            found = _existing_ids(session, model, system, [source_id])
            cache[(resource_type, source_id)] = found.get(source_id)
        return cache[(resource_type, source_id)]

    medications = {}
    for entry in batch.entries:
        if entry.resource_type == "Medication":
            for name in (entry.full_url, f"Medication/{rids[entry.index]}"):
                if name:
                    medications[name] = entry.resource
    ctx = MapContext(
        source_system=system,
        ids=ids,
        full_urls=full_urls,
        lookup=lookup,
        ssn_key=ssn_key,
        bundle_id=batch.bundle_id,
        extra={"patient_keys": patient_keys, "medications": medications, "session": session},
    )
    planned: list[_Planned] = []
    for entry in batch.entries:
        rt, sid = entry.resource_type, rids[entry.index]
        plan = _Planned(entry, rt, sid)
        mapper = mapping.MAPPERS.get(rt)
        if mapper is None:
            reason = RawReason.UNMAPPED_TYPE
            if rt not in FHIR_MODELS and rt not in KEPT_RAW and not is_known_type(rt):
                reason = RawReason.UNKNOWN_TYPE
            plan.rows = [_raw_row(entry, ctx, sid, reason, None)]
            plan.raw = True
        else:
            try:
                plan.rows = mapper(entry.resource, ctx)
            except MappingError as exc:
                report.problems.append(
                    Problem(batch.label, entry.index, entry.full_url, exc.path, exc.message)
                )
                continue
            except Unresolved as exc:
                plan.rows = [_raw_row(entry, ctx, sid, RawReason.UNRESOLVED_REFERENCE, exc.path)]
                plan.raw = True
        planned.append(plan)
    return planned, ctx.ids


def _references(batch: Batch, full_urls: dict[str, tuple[str, str]]) -> set[tuple[str, str]]:
    """(resource type, id) of every ``Type/id`` reference in the batch that is not one
    of its own full URLs, parsed as :meth:`MapContext.resolve` parses them."""
    found: set[tuple[str, str]] = set()
    stack: list[Any] = [entry.resource for entry in batch.entries]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref and not ref.startswith("#") and ref not in full_urls:
                parts = ref.rstrip("/").split("/")
                if "_history" in parts:
                    parts = parts[: parts.index("_history")]
                if len(parts) >= 2:
                    found.add((parts[-2], parts[-1]))
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return found


def _raw_row(entry: Entry, ctx: MapContext, sid: str, reason: RawReason, note: str | None) -> Row:
    resource = entry.resource
    patient_id = None
    for name in ("subject", "patient", "beneficiary"):
        target = ctx.resolve(resource.get(name), name)
        if target is not None and target.resource_type == "Patient":
            patient_id = target.id
            break
    return Row(
        RawResource,
        ctx.source_system,
        f"{entry.resource_type}/{sid}"[:128],
        {
            "patient_id": patient_id,
            "resource_type": (entry.resource_type or "unknown")[:64],
            "format": "fhir-r4",
            "body": resource,
            "reason": reason,
            "note": f"unresolved reference: {note}" if note else None,
            "bundle_id": ctx.bundle_id,
            "sensitivity": sensitivity_of(resource),
        },
    )


def _same(old: Any, new: Any, column: str = "") -> bool:
    if old == new:
        return True
    if column == "deleted_at" and old is not None and new is not None:
        return True  # withdrawn again (an inactive resource re-sent): keep when it first was
    if isinstance(old, Decimal | float | int) and isinstance(new, Decimal | float | int):
        return Decimal(str(old)) == Decimal(str(new))
    return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, dict | list):
        return value.value
    return value


def _write(
    session: Session,
    planned: list[_Planned],
    ids: dict[tuple[str, str], uuid.UUID],
    now: datetime,
    report: BatchReport,
    prefetched: Prefetched,
) -> dict[int, str]:
    """Upsert every planned row; the outcome of each plan (created/updated/unchanged)."""
    merged: dict[tuple[str, str], Row] = {}
    owners: dict[tuple[str, str], list[int]] = defaultdict(list)
    firsts: dict[int, tuple[str, str]] = {}
    for plan in planned:
        for i, row in enumerate(plan.rows):
            key = (row.model.__tablename__, row.source_id)
            if i == 0:
                firsts[id(plan)] = key
            owners[key].append(id(plan))
            if key in merged:
                merged[key].values.update(row.values)
                merged[key].partial = merged[key].partial and row.partial
            else:
                merged[key] = Row(
                    row.model, row.source_system, row.source_id, dict(row.values), row.partial
                )
    preassigned = _preassigned(ids)
    row_state: dict[tuple[str, str], str] = {}
    inserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_table: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in merged.values():
        by_table[(row.model.__tablename__, row.source_system)].append(row)
    for (tablename, row_system), rows in by_table.items():
        table: Table = rows[0].model.__table__  # type: ignore[assignment]
        asked, stored = prefetched.get((tablename, row_system), (set(), {}))
        missing = [r.source_id for r in rows if r.source_id not in asked]
        if missing:
            stored = {**stored, **_stored(session, table, row_system, missing)}
        for row in rows:
            key = (tablename, row.source_id)
            old = stored.get(row.source_id)
            if old is None:
                if row.partial:
                    row_state[key] = "unchanged"  # its target was kept raw or is absent
                    continue
                values = dict(row.values)
                values["id"] = preassigned.get(key) or uuid.uuid4()
                values["source_system"] = row_system
                values["source_id"] = row.source_id
                inserts[tablename].append(values)
                row_state[key] = "created"
                if tablename == "patient":
                    on_patient_upserted(session, values["id"])
                continue
            changed = {
                k: v for k, v in row.values.items() if k in table.c and not _same(old[k], v, k)
            }
            if not changed:
                row_state[key] = "unchanged"
                continue
            _history(session, table, row, old, changed, now)
            report.history_rows += 1
            session.execute(
                update(table)
                .where(table.c.id == old["id"])
                .values(**changed, version=table.c.version + 1, updated_at=now)
            )
            row_state[key] = "updated"
            if tablename == "patient":
                on_patient_upserted(session, old["id"])
    for tablename in WRITE_ORDER:
        rows_to_insert = inserts.pop(tablename, [])
        if rows_to_insert:
            table = Base.metadata.tables[tablename]
            groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
            for values in rows_to_insert:
                groups[frozenset(values)].append(values)
            for group in groups.values():
                session.execute(insert(table), group)
    if inserts:  # a model missing from WRITE_ORDER is a programming error, loudly
        raise RuntimeError(f"no write order for tables {sorted(inserts)}")
    outcomes: dict[int, str] = {}
    for plan in planned:
        keys = [(r.model.__tablename__, r.source_id) for r in plan.rows]
        states = [row_state.get(k, "unchanged") for k in keys]
        first = row_state.get(firsts.get(id(plan), ("", "")), "unchanged")
        if first == "created":
            outcomes[id(plan)] = "created"
        elif "updated" in states or "created" in states:
            outcomes[id(plan)] = "updated"
        else:
            outcomes[id(plan)] = "unchanged"
    return outcomes


def _preassigned(ids: dict[tuple[str, str], uuid.UUID]) -> dict[tuple[str, str], uuid.UUID]:
    """(table, source id) -> the id references were resolved to while mapping."""
    found: dict[tuple[str, str], uuid.UUID] = {}
    for (resource_type, source_id), rid in ids.items():
        model = FHIR_MODELS.get(resource_type)
        if model is not None:
            found[(model.__tablename__, source_id)] = rid
    return found


def _stored(
    session: Session, table: Table, system: str, source_ids: list[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(set(source_ids))
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(table).where(
                table.c.source_system == system,
                table.c.source_id.in_(wanted[start : start + CHUNK]),
            )
        ).mappings()
        found.update({row["source_id"]: dict(row) for row in rows})
    return found


def _history(
    session: Session,
    table: Table,
    row: Row,
    old: dict[str, Any],
    changed: dict[str, Any],
    now: datetime,
) -> None:
    """Keep the previous values of the columns a re-import changed, as a RawResource."""
    patient_id = old.get("patient_id") if table.name != "patient" else old["id"]
    session.execute(
        insert(RawResource),
        [
            {
                "id": uuid.uuid4(),
                "source_system": row.source_system,
                "source_id": f"{table.name}/{row.source_id}/_history/{old['version']}"[:128],
                "patient_id": patient_id,
                "resource_type": table.name[:64],
                "format": "p360-history",
                "body": {
                    "table": table.name,
                    "id": str(old["id"]),
                    "version": old["version"],
                    "previous": {k: _jsonable(old[k]) for k in sorted(changed)},
                },
                "reason": RawReason.SUPERSEDED,
                "note": "changed: " + ", ".join(sorted(changed)),
                "received_at": now,
                "sensitivity": old.get("sensitivity") or 0,
            }
        ],
    )


def _audit(
    session: Session,
    report: BatchReport,
    principal: Principal | None,
    actor: str | None,
    now: datetime,
) -> None:
    """One event per patient whose record this batch created or changed (names only)."""
    touched: dict[uuid.UUID | None, set[str]] = defaultdict(set)
    for result in report.entries:
        if result.outcome in ("created", "updated"):
            touched[None].add(result.resource_type)
    if not touched:
        return
    types = sorted(touched[None])
    patients: list[uuid.UUID | None] = list(report.patients_upserted) or [None]
    for patient_id in patients:
        audit.record(
            session=session,
            principal=principal,
            actor_username=actor,
            action=AuditAction.CREATE,
            patient_id=patient_id,
            record_types=types,
            client="fhir-import",
            now=now,
        )
