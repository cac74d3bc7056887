"""FHIR import on both databases: Synthea facts, idempotency, history, all or nothing,
NDJSON, and Patient/$everything per role (masking + meta.security + export audit)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from backend.access.models import AuditAction, AuditEvent
from backend.access.policy import policy_store
from backend.access.principal import Principal, PrincipalKind
from backend.billing.models import Charge, Invoice
from backend.clinical.models import Condition, Immunization, Observation
from backend.interop.fhir.exporter import everything
from backend.interop.fhir.importer import import_batch
from backend.interop.fhir.reader import bundle_from_json, ndjson_from_bytes
from backend.interop.fhir.report import BatchReport
from backend.interop.fhir.validation import validate_model
from backend.interop.models import RawReason, RawResource
from backend.models import metadata
from backend.organization.models import (
    CareTeam,
    CareTeamPatient,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import EmergencyContact, Patient, PatientIdentifier
from backend.scheduling.models import Encounter
from backend.settings import get_settings

FIXTURES = Path("/work/shared/fixtures/fhir/synthea")
BUNDLES = sorted(FIXTURES.glob("*.json"))
KEY = b"k" * 32


def _load(path: Path) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return bundle


def _import(session: Session, bundle: dict[str, Any], label: str = "test") -> BatchReport:
    return import_batch(session=session, batch=bundle_from_json(bundle, label=label), ssn_key=KEY)


def _counts(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(select(func.count()).select_from(table)) or 0
        for name, table in metadata.tables.items()
        if name != "audit_event" and name != "audit_chain_head"
    }


def _patient_id(session: Session, bundle: dict[str, Any]) -> uuid.UUID:
    source_id = next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    found = session.scalar(select(Patient.id).where(Patient.source_id == source_id))
    assert found is not None
    return found


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_every_synthea_bundle_imports_with_its_facts(session: Session, path: Path) -> None:
    bundle = _load(path)
    report = _import(session, bundle, path.name)
    assert report.ok, report.problems
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        by_type.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    for resource_type, resources in by_type.items():
        assert report.counts[resource_type].created == len(resources), resource_type
    pid = _patient_id(session, bundle)
    patient = session.get(Patient, pid)
    source = by_type["Patient"][0]
    assert patient is not None
    assert patient.family_name == source["name"][0]["family"]
    assert patient.birth_date is not None
    assert patient.birth_date.isoformat() == source["birthDate"]
    assert report.patients_upserted == [pid]
    # Counts per type, on the patient.
    for model, resource_type in (
        (Observation, "Observation"),
        (Encounter, "Encounter"),
        (Condition, "Condition"),
        (Immunization, "Immunization"),
        (Invoice, "Claim"),
    ):
        stored = session.scalar(select(func.count()).where(model.patient_id == pid))
        assert stored == len(by_type.get(resource_type, [])), resource_type
    # A few values per patient.
    first_obs = by_type["Observation"][0]
    obs = session.scalar(select(Observation).where(Observation.source_id == first_obs["id"]))
    assert obs is not None
    assert obs.code.code == first_obs["code"]["coding"][0]["code"]
    if "valueQuantity" in first_obs:
        assert float(obs.value_precise or obs.value_quantity or 0) == pytest.approx(
            first_obs["valueQuantity"]["value"]
        )
    charges = session.scalar(select(func.count()).where(Charge.patient_id == pid))
    assert charges == sum(len(c.get("item", [])) for c in by_type["Claim"])
    eob = by_type["ExplanationOfBenefit"][0]
    claim_id = eob["claim"]["reference"].removeprefix("urn:uuid:")
    invoice = session.scalar(select(Invoice).where(Invoice.source_id == claim_id))
    assert invoice is not None
    assert invoice.eob_detail is not None
    assert invoice.eob_detail["id"] == eob["id"]
    assert invoice.coverage_id is not None
    ssn = session.scalar(
        select(PatientIdentifier).where(
            PatientIdentifier.patient_id == pid, PatientIdentifier.kind == "ssn"
        )
    )
    assert ssn is not None
    assert ssn.value is None
    assert ssn.last4 is not None


def test_same_bundle_twice_writes_nothing(session: Session) -> None:
    bundle = _load(BUNDLES[0])
    assert _import(session, bundle).ok
    before = _counts(session)
    again = _import(session, bundle)
    assert again.ok
    assert again.patients_upserted == []
    assert all(c.created == 0 and c.updated == 0 for c in again.counts.values())
    assert _counts(session) == before


def test_changed_resource_updates_and_keeps_history(session: Session) -> None:
    bundle = _load(BUNDLES[0])
    assert _import(session, bundle).ok
    changed = copy.deepcopy(bundle)
    obs = next(
        e["resource"]
        for e in changed["entry"]
        if e["resource"]["resourceType"] == "Observation" and "valueQuantity" in e["resource"]
    )
    old_value = obs["valueQuantity"]["value"]
    obs["valueQuantity"]["value"] = 42
    report = _import(session, changed)
    assert report.ok
    assert report.counts["Observation"].updated == 1
    row = session.scalar(select(Observation).where(Observation.source_id == obs["id"]))
    assert row is not None
    assert row.value_quantity == 42
    assert row.version == 2
    history = session.scalar(
        select(RawResource).where(
            RawResource.reason == RawReason.SUPERSEDED,
            RawResource.source_id.like(f"observation/{obs['id']}/%"),
        )
    )
    assert history is not None
    assert history.patient_id == row.patient_id
    previous = history.body["previous"]
    assert float(previous.get("value_precise") or previous["value_quantity"]) == pytest.approx(
        old_value
    )


def test_invalid_bundle_names_entry_and_field_and_writes_nothing(session: Session) -> None:
    bundle = _load(BUNDLES[0])
    before = _counts(session)
    bad = copy.deepcopy(bundle)
    at = next(i for i, e in enumerate(bad["entry"]) if "valueQuantity" in e["resource"])
    bad["entry"][at]["resource"]["valueQuantity"] = {"value": "not a number"}
    report = _import(session, bad, "bad.json")
    assert not report.ok
    places = {(p.index, p.path) for p in report.problems}
    assert (at, "Observation.valueQuantity.value") in places
    assert any(p.full_url == bad["entry"][at]["fullUrl"] for p in report.problems)
    assert "not a number" not in " ".join(str(p) for p in report.problems)
    assert sum(c.failed for c in report.counts.values()) == len(bad["entry"])
    assert _counts(session) == before
    # A mapping problem (a valid FHIR code we have no value for) rejects the batch too.
    bad2 = copy.deepcopy(bundle)
    enc = next(e for e in bad2["entry"] if e["resource"]["resourceType"] == "Encounter")
    enc["resource"]["period"] = {}
    report2 = _import(session, bad2)
    assert not report2.ok
    assert report2.problems[0].path == "Encounter.period.start"
    assert _counts(session) == before


def test_ndjson_and_unmapped_types_kept_raw(session: Session) -> None:
    bundle = _load(BUNDLES[0])
    assert _import(session, bundle).ok
    pid_source = next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    teams = [
        {
            "resourceType": "CareTeam",
            "id": f"team-{i}",
            "status": "active",
            "subject": {"reference": f"Patient/{pid_source}"},
        }
        for i in range(3)
    ]
    body = "\n".join(json.dumps(t) for t in teams).encode()
    batch = ndjson_from_bytes(body, label="CareTeam.ndjson")
    report = import_batch(session=session, batch=batch, ssn_key=KEY, source_system="synthea-5-2019")
    assert report.ok
    assert report.counts["CareTeam"].raw == 3
    raw = session.scalars(select(RawResource).where(RawResource.resource_type == "CareTeam")).all()
    assert len(raw) == 3
    assert all(r.patient_id is not None for r in raw)
    assert {r.reason for r in raw} == {RawReason.UNMAPPED_TYPE}
    # A type FHIR R4 does not have is kept raw too (it once stopped the import).
    odd = {"resourceType": "NoSuchThing", "id": "odd-1", "subject": teams[0]["subject"]}
    report = import_batch(
        session=session,
        batch=ndjson_from_bytes(json.dumps(odd).encode(), label="NoSuchThing.ndjson"),
        ssn_key=KEY,
        source_system="synthea-5-2019",
    )
    assert report.ok, report.problems
    assert report.counts["NoSuchThing"].raw == 1
    kept = session.scalar(select(RawResource).where(RawResource.resource_type == "NoSuchThing"))
    assert kept is not None
    assert kept.reason == RawReason.UNKNOWN_TYPE
    with pytest.raises(ValueError, match="one resource type"):
        ndjson_from_bytes(body + b"\n" + json.dumps({"resourceType": "Device"}).encode(), label="x")


def test_references_to_stored_rows_are_read_once_per_batch(session: Session) -> None:
    sources = []
    for path in BUNDLES:
        bundle = _load(path)
        assert _import(session, bundle).ok
        sources.append(
            next(
                e["resource"]["id"]
                for e in bundle["entry"]
                if e["resource"]["resourceType"] == "Patient"
            )
        )
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"later-{i}",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            "subject": {"reference": f"Patient/{sources[i % len(sources)]}"},
        }
        for i in range(12)
    ]
    batch = ndjson_from_bytes(
        "\n".join(json.dumps(c) for c in conditions).encode(), label="Condition.ndjson"
    )
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", seen)
    try:
        report = import_batch(
            session=session, batch=batch, ssn_key=KEY, source_system="synthea-5-2019"
        )
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert report.ok, report.problems
    assert report.counts["Condition"].created == 12
    patient_reads = [s for s in statements if s.lstrip().startswith("SELECT patient.source_id")]
    assert len(patient_reads) == 1  # one IN list for both patients, not one per reference


def test_unresolved_subject_is_kept_raw_not_dropped(session: Session) -> None:
    orphan = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "orphan-1",
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
                    "subject": {"reference": "Patient/nobody"},
                }
            }
        ],
    }
    report = _import(session, orphan)
    assert report.ok
    assert report.counts["Condition"].raw == 1
    row = session.scalar(select(RawResource).where(RawResource.source_id == "Condition/orphan-1"))
    assert row is not None
    assert row.reason == RawReason.UNRESOLVED_REFERENCE


def _scoped(session: Session, patient_id: uuid.UUID) -> uuid.UUID:
    org = Organization(id=uuid.uuid4(), name="Clinic", kind=OrganizationKind.PROVIDER)
    session.add(org)
    session.flush()
    loc = Location(id=uuid.uuid4(), organization_id=org.id, name="Main")
    session.add(loc)
    session.flush()
    team = CareTeam(id=uuid.uuid4(), name="A", location_id=loc.id)
    session.add(team)
    session.flush()
    session.add(CareTeamPatient(care_team_id=team.id, patient_id=patient_id))
    session.flush()
    return team.id


def _principal(role: str, team: uuid.UUID | None) -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF,
        subject_id=uuid.uuid4(),
        username=role,
        roles=frozenset({role}),
        care_team_ids=frozenset({team} if team else ()),
    )


def test_everything_per_role_masks_labels_and_audits_export(session: Session) -> None:
    bundle = _load(BUNDLES[0])
    assert _import(session, bundle).ok
    pid = _patient_id(session, bundle)
    team = _scoped(session, pid)
    policy = policy_store(get_settings().policies_dir).current()
    physician = everything(
        session=session, principal=_principal("physician", team), policy=policy, patient_id=pid
    )
    assert physician is not None
    types = [e["resource"]["resourceType"] for e in physician["entry"]]
    assert types.count("Observation") == 33
    assert types.count("Condition") == 3
    for entry in physician["entry"]:
        validate_model(entry["resource"])
    validate_model(physician)
    front = everything(
        session=session, principal=_principal("front_desk", team), policy=policy, patient_id=pid
    )
    assert front is not None
    front_types = {e["resource"]["resourceType"] for e in front["entry"]}
    assert "Condition" not in front_types
    assert "Observation" not in front_types
    assert {"code": "REDACTED"}.items() <= front["meta"]["security"][0].items()
    validate_model(front)
    outsider = everything(
        session=session, principal=_principal("physician", None), policy=policy, patient_id=pid
    )
    missing = everything(
        session=session,
        principal=_principal("physician", team),
        policy=policy,
        patient_id=uuid.uuid4(),
    )
    assert outsider is None
    assert missing is None
    exports = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == AuditAction.EXPORT, AuditEvent.patient_id == pid
        )
    ).all()
    assert len(exports) >= 2
    assert any(e.masked_fields for e in exports) is not None


def test_related_person_becomes_a_contact_and_can_be_withdrawn(session: Session) -> None:
    """RelatedPerson -> an emergency contact of its patient (never the primary one); the
    same resource again writes nothing; ``active: false`` withdraws it once and keeps
    the time it was first withdrawn; one without a patient we know is kept raw."""
    bundle = _load(BUNDLES[0])
    assert _import(session, bundle).ok
    patient_id = _patient_id(session, bundle)
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    source_id = patient["id"]
    person: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": "rp-1",
        "patient": {"reference": f"Patient/{source_id}"},
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                      "v3-RoleCode", "code": "SIS", "display": "sister"}]}],
        "name": [{"family": "Rivera", "given": ["Ana"]}],
        "telecom": [{"system": "phone", "value": "+15555550142"},
                    {"system": "email", "value": "ana@example.org"}],
    }  # fmt: skip
    orphan = {**person, "id": "rp-2", "patient": {"reference": "Patient/nobody-here"}}
    entries = [{"resource": r} for r in (patient, person, orphan)]
    batch = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    report = _import(session, batch)
    assert report.ok, report
    assert report.counts["RelatedPerson"].created == 1
    contact = session.scalars(
        select(EmergencyContact).where(EmergencyContact.source_id == "rp-1")
    ).one()
    assert (contact.patient_id, contact.name, contact.relationship_to_patient) == (
        patient_id,
        "Ana Rivera",
        "sister",
    )
    assert (contact.phone, contact.email, contact.is_primary) == (
        "+15555550142",
        "ana@example.org",
        False,
    )
    assert contact.deleted_at is None
    raw = session.scalars(select(RawResource).where(RawResource.source_id.like("%rp-2%"))).one()
    assert raw.reason == RawReason.UNRESOLVED_REFERENCE
    again = _import(session, batch)
    assert all(c.created == 0 and c.updated == 0 for c in again.counts.values())
    person["active"] = False
    assert _import(session, batch).counts["RelatedPerson"].updated == 1
    session.expire_all()
    withdrawn = session.get_one(EmergencyContact, contact.id)
    assert withdrawn.deleted_at is not None
    first_withdrawn = withdrawn.deleted_at
    assert _import(session, batch).counts["RelatedPerson"].updated == 0
    session.expire_all()
    assert session.get_one(EmergencyContact, contact.id).deleted_at == first_withdrawn
