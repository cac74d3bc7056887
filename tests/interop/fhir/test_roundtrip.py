"""FHIR round trip on both databases: import every Synthea sample (and one resource of
every other mapped type), export (bulk NDJSON and ``$everything``), validate every
resource with fhir.resources, compare the key facts with the source JSON, re-import the
export into a fresh database (same facts) and once more (nothing changes)."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.access.policy import CompiledPolicy, policy_store
from backend.access.principal import Principal, PrincipalKind
from backend.db import make_engine
from backend.interop.fhir.bulk import export_ndjson
from backend.interop.fhir.exporter import everything
from backend.interop.fhir.importer import import_batch
from backend.interop.fhir.reader import read_paths
from backend.interop.fhir.validation import validate_model
from backend.migrations import upgrade_to_head
from backend.organization.models import CareTeam, CareTeamPatient
from backend.patients.models import Patient
from backend.settings import get_settings
from tests.interop.fhir.extra_bundle import extra_bundle
from tests.interop.fhir.test_import import BUNDLES, KEY, _import, _load

READS_ALL = frozenset({"physician", "billing", "integration"})
SHARED = {"Organization", "Practitioner"}  # reference data, not any one patient's record

Facts = dict[str, Any]


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _code(concept: dict[str, Any] | None) -> str | None:
    code: str | None = ((concept or {}).get("coding") or [{}])[0].get("code")
    return code


def facts(resources: Iterable[dict[str, Any]]) -> dict[tuple[Any, ...], Facts]:
    """Key facts per patient (keyed by name and birth date, so ids may differ)."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    patients: dict[str, dict[str, Any]] = {}
    for r in resources:
        if r["resourceType"] == "Patient":
            patients[r["id"]] = r
            continue
        ref = (r.get("subject") or r.get("patient") or r.get("beneficiary") or {}).get(
            "reference", ""
        )
        if not ref:
            for part in r.get("participant", []):
                if "Patient" in (part.get("actor") or {}).get("reference", "") or "urn:uuid" in (
                    part.get("actor") or {}
                ).get("reference", ""):
                    ref = part["actor"]["reference"]
                    break
        by_patient[ref.rsplit("/", 1)[-1].removeprefix("urn:uuid:")].append(r)
    out: dict[tuple[Any, ...], Facts] = {}
    for pid, patient in patients.items():
        records = by_patient[pid]
        name = patient["name"][0]
        out[(name.get("family"), tuple(name.get("given", [])), patient["birthDate"])] = {
            "gender": patient.get("gender"),
            "counts": Counter(r["resourceType"] for r in records),
            "conditions": sorted(
                str(_code(r["code"])) for r in records if r["resourceType"] == "Condition"
            ),
            "observations": sorted(
                (
                    str(_code(r["code"])),
                    round(float(r["valueQuantity"]["value"]), 4),
                    r["valueQuantity"].get("code") or r["valueQuantity"].get("unit"),
                )
                for r in records
                if r["resourceType"] == "Observation" and "valueQuantity" in r
            ),
            "medications": sorted(
                str(_code(r.get("medicationCodeableConcept")))
                for r in records
                if r["resourceType"] in ("MedicationRequest", "MedicationStatement")
            ),
            "encounters": sorted(
                (_when(r["period"].get("start")), _when(r["period"].get("end")))
                for r in records
                if r["resourceType"] == "Encounter"
            ),
            # SSNs are never stored (a keyed hash and the last four), so never exported.
            "identifiers": sorted(
                (i.get("system"), _code(i.get("type")), i.get("value"))
                for i in patient.get("identifier", [])
                if _code(i.get("type")) != "SS"
            ),
            "contacts": sorted(_contact(c) for c in patient.get("contact", [])),
        }
    return out


def _contact(contact: dict[str, Any]) -> tuple[Any, ...]:
    """Who (the name as one text), who to the patient (leaving out v2-0131 ``C``, which
    only says why the contact is listed) and how to reach them."""
    name = contact.get("name") or {}
    text = name.get("text") or " ".join([*name.get("given", []), name.get("family", "")])
    relationship = [
        r.get("text") or (r["coding"][0].get("display") or r["coding"][0].get("code"))
        for r in contact.get("relationship", [])
        if r.get("text") or _code(r) != "C"
    ]
    telecom = sorted((t["system"], t["value"]) for t in contact.get("telecom", []))
    return (text, tuple(relationship), tuple(telecom))


def _source_resources() -> list[dict[str, Any]]:
    found = []
    for bundle in [*(_load(p) for p in BUNDLES), extra_bundle()]:
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] in SHARED:
                continue
            if resource["resourceType"] == "ExplanationOfBenefit":
                # Its inline Coverage becomes a Coverage record of its own.
                found += [
                    {**c, "beneficiary": resource["patient"]}
                    for c in resource.get("contained", [])
                    if c["resourceType"] == "Coverage"
                ]
            found.append(resource)
    return found


def _reader(session: Session, patient_ids: Iterable[uuid.UUID] | None = None) -> Principal:
    """A reader of every record type, on a care team with these patients (default: all;
    other test packages may have committed patients of their own to the shared one)."""
    team = CareTeam(name=f"export-{uuid.uuid4().hex[:8]}")
    session.add(team)
    session.flush()
    if patient_ids is None:
        patient_ids = list(session.scalars(select(Patient.id)))
    for pid in patient_ids:
        session.add(CareTeamPatient(care_team_id=team.id, patient_id=pid))
    session.flush()
    return Principal(
        kind=PrincipalKind.STAFF,
        subject_id=uuid.uuid4(),
        username="exporter",
        roles=READS_ALL,
        care_team_ids=frozenset({team.id}),
    )


def _read_ndjson(folder: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(folder.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            assert resource["resourceType"] == path.stem
            found.append(resource)
    return found


def _export(
    session: Session,
    policy: CompiledPolicy,
    out: Path,
    patient_ids: list[uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    summary = export_ndjson(
        session=session,
        principal=_reader(session, patient_ids),
        policy=policy,
        out=out,
        patient_ids=patient_ids,
        page=2,
    )
    exported = _read_ndjson(out)
    assert sum(summary.counts.values()) == len(exported)
    assert summary.labelled == 0
    for resource in exported:
        validate_model(resource)
    return exported


def _reimport(session: Session, folder: Path) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for batch in read_paths([folder]):
        report = import_batch(session=session, batch=batch, ssn_key=KEY)
        assert report.ok, report.problems
        for entry in report.entries:
            # An EOB adds itself to its claim's invoice: "updated" is its "created".
            if entry.resource_type == "ExplanationOfBenefit" and entry.outcome == "updated":
                outcomes["created"] += 1
            else:
                outcomes[entry.outcome] += 1
    return outcomes


@pytest.fixture
def fresh_engine(engine: Engine, fresh_database_url: Callable[[str], str]) -> Engine:
    url = fresh_database_url(engine.dialect.name)
    upgrade_to_head(url)
    return make_engine(url)


def test_round_trip(session: Session, fresh_engine: Engine, tmp_path: Path) -> None:
    policy = policy_store(get_settings().policies_dir).current()
    mine: list[uuid.UUID] = []
    for bundle, label in [*((_load(p), p.name) for p in BUNDLES), (extra_bundle(), "extra")]:
        report = _import(session, bundle, label)
        assert report.ok
        mine += report.patients_upserted
    exported = _export(session, policy, tmp_path / "first", mine)
    source = facts(_source_resources())
    assert facts(exported) == source
    assert len(source) == len(BUNDLES) + 1
    # Not vacuous: every patient has identifiers (an MRN among them), one has a contact.
    assert all(("MR" in {t for _, t, _ in f["identifiers"]}) for f in source.values())
    assert sum(len(f["contacts"]) for f in source.values()) == 1

    # $everything gives each patient the same resources as the bulk export.
    reader = _reader(session, mine)
    ids_by_patient = defaultdict(set)
    for resource in exported:
        if resource["resourceType"] != "Patient":
            continue
        found = everything(
            session=session, principal=reader, policy=policy, patient_id=uuid.UUID(resource["id"])
        )
        assert found is not None
        validate_model(found)
        ids_by_patient[resource["id"]] = {
            (e["resource"]["resourceType"], e["resource"]["id"]) for e in found["entry"]
        }
    assert set().union(*ids_by_patient.values()) == {(r["resourceType"], r["id"]) for r in exported}

    # Into a fresh database: the same facts; a second import changes nothing.
    with Session(fresh_engine) as fresh, fresh.begin():
        first = _reimport(fresh, tmp_path / "first")
        assert set(first) <= {"created", "raw"}
        again = _reimport(fresh, tmp_path / "first")
        assert set(again) <= {"unchanged", "raw"}, again
        assert again["raw"] == first["raw"]
        second = _export(fresh, policy, tmp_path / "second")
    fresh_engine.dispose()
    assert facts(second) == source
    assert Counter(r["resourceType"] for r in second) == Counter(
        r["resourceType"] for r in exported
    )


def test_bulk_export_filters_by_patient_and_date_and_audits_each_patient(
    session: Session, tmp_path: Path
) -> None:
    policy = policy_store(get_settings().policies_dir).current()
    ids: list[uuid.UUID] = []
    for path in BUNDLES:
        report = _import(session, _load(path), path.name)
        assert report.ok
        ids += report.patients_upserted
    ids.sort()
    reader = _reader(session, ids)
    one = export_ndjson(
        session=session, principal=reader, policy=policy, out=tmp_path / "one", patient_ids=ids[:1]
    )
    assert one.patients == 1
    assert {r["id"] for r in _read_ndjson(tmp_path / "one") if r["resourceType"] == "Patient"} == {
        str(ids[0])
    }
    assert sum(one.counts.values()) > 1
    later = datetime.fromisoformat("2999-01-01T00:00:00+00:00")
    none_since = export_ndjson(
        session=session,
        principal=reader,
        policy=policy,
        out=tmp_path / "later",
        patient_ids=ids,
        since=later,
    )
    # Nothing changed since then: only the Patient resources (the records' anchors).
    assert dict(none_since.counts) == {"Patient": len(ids)}
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == AuditAction.EXPORT, AuditEvent.client == "fhir-bulk"
        )
    ).all()
    assert sorted(str(e.patient_id) for e in events) == sorted(
        [str(ids[0]), *(str(i) for i in ids)]
    )


def test_bulk_export_audits_unknown_and_out_of_scope_ids_as_not_found_without_ids(
    session: Session, tmp_path: Path
) -> None:
    policy = policy_store(get_settings().policies_dir).current()
    ids: list[uuid.UUID] = []
    for path in BUNDLES:
        report = _import(session, _load(path), path.name)
        assert report.ok
        ids += report.patients_upserted
    reader = _reader(session, ids[:1])  # the second patient is out of this reader's scope
    unknown = uuid.uuid4()
    summary = export_ndjson(
        session=session,
        principal=reader,
        policy=policy,
        out=tmp_path / "out",
        patient_ids=[ids[0], ids[1], unknown, unknown],
    )
    assert (summary.patients, summary.not_found) == (1, 2)
    exported = {r["id"] for r in _read_ndjson(tmp_path / "out")}
    assert str(ids[1]) not in exported
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.client == "fhir-bulk", AuditEvent.actor_id == reader.subject_id
        )
    ).all()
    refused = [e for e in events if e.outcome is AuditOutcome.NOT_FOUND]
    # One refusal per id refused, told apart from neither each other nor an unknown id.
    assert len(refused) == 2
    assert [e.patient_id for e in events if e.outcome is AuditOutcome.SUCCESS] == [ids[0]]
    for event in refused:
        assert event.action is AuditAction.EXPORT
        assert event.patient_id is None
        assert event.record_types == ["Patient"]
        assert event.fields == ["Patient.export"]
        row = repr({c.name: getattr(event, c.name) for c in AuditEvent.__table__.c})
        for refused_id in (ids[1], unknown):
            assert str(refused_id) not in row
            assert refused_id.hex not in row
