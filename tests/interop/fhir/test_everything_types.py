"""``Patient/$everything`` covers every record type the importer maps, plus raw resources,
and every resource it returns validates with the fhir.resources R4B models."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from backend.access.policy import policy_store
from backend.access.principal import Principal, PrincipalKind
from backend.interop.fhir.exporter import everything
from backend.interop.fhir.validation import validate_model
from backend.settings import get_settings
from tests.interop.fhir.extra_bundle import MRN, NOTE, V2_0203, extra_bundle
from tests.interop.fhir.test_import import BUNDLES, _import, _load, _patient_id, _scoped

READS_ALL = frozenset({"physician", "billing", "integration"})


def _reader(team: uuid.UUID, roles: frozenset[str] = READS_ALL) -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF,
        subject_id=uuid.uuid4(),
        username="exporter",
        roles=roles,
        care_team_ids=frozenset({team}),
    )


def test_everything_exports_every_mapped_type_and_raw_resources(session: Session) -> None:
    policy = policy_store(get_settings().policies_dir).current()
    synthea = _load(BUNDLES[0])
    extra = extra_bundle()
    assert _import(session, synthea).ok
    assert _import(session, extra, "extra").ok
    seen: Counter[str] = Counter()
    for bundle in (synthea, extra):
        pid = _patient_id(session, bundle)
        found = everything(
            session=session, principal=_reader(_scoped(session, pid)), policy=policy, patient_id=pid
        )
        assert found is not None
        validate_model(found)
        for entry in found["entry"]:
            validate_model(entry["resource"])
            assert "meta" not in entry["resource"], entry["resource"]["resourceType"]
        seen.update(e["resource"]["resourceType"] for e in found["entry"])
        assert "meta" not in found  # nothing withheld from a reader of every type
        if bundle is extra:
            note = next(
                e["resource"]
                for e in found["entry"]
                if e["resource"]["resourceType"] == "DocumentReference"
            )
            data = note["content"][0]["attachment"]["data"]
            assert base64.b64decode(data).decode() == NOTE
    source = Counter(e["resource"]["resourceType"] for b in (synthea, extra) for e in b["entry"])
    # An EOB's contained Coverage becomes a Coverage record of its own.
    source["Coverage"] += sum(
        1
        for e in synthea["entry"]
        if e["resource"]["resourceType"] == "ExplanationOfBenefit"
        and any(c["resourceType"] == "Coverage" for c in e["resource"].get("contained", []))
    )
    shared = {"Organization", "Practitioner"}  # not any one patient's record
    assert {t: n for t, n in source.items() if t not in shared} == dict(seen)


def test_masked_types_are_left_out_and_the_bundle_labelled(session: Session) -> None:
    policy = policy_store(get_settings().policies_dir).current()
    extra = extra_bundle()
    assert _import(session, extra, "extra").ok
    pid = _patient_id(session, extra)
    found = everything(
        session=session,
        principal=_reader(_scoped(session, pid), frozenset({"front_desk"})),
        policy=policy,
        patient_id=pid,
    )
    assert found is not None
    types = {e["resource"]["resourceType"] for e in found["entry"]}
    assert "DocumentReference" not in types
    assert "CareTeam" not in types  # raw resources are no front-desk business
    assert found["meta"]["security"][0]["code"] == "REDACTED"
    for entry in found["entry"]:
        validate_model(entry["resource"])


def _patient_resource(session: Session, roles: frozenset[str]) -> dict[str, Any]:
    policy = policy_store(get_settings().policies_dir).current()
    extra = extra_bundle()
    assert _import(session, extra, "extra").ok
    pid = _patient_id(session, extra)
    found = everything(
        session=session, principal=_reader(_scoped(session, pid), roles), policy=policy,
        patient_id=pid,
    )  # fmt: skip
    assert found is not None
    validate_model(found)
    patient: dict[str, Any] = found["entry"][0]["resource"]
    assert patient["resourceType"] == "Patient"
    validate_model(patient)
    return patient


def test_the_patient_carries_its_identifiers_and_emergency_contacts(session: Session) -> None:
    patient = _patient_resource(session, READS_ALL)
    assert patient["identifier"] == [
        {
            "type": {"coding": [{"system": V2_0203, "code": "MR"}]},
            "system": "urn:oid:1.2.3.4.5",
            "value": MRN,
        }
    ]
    (contact,) = patient["contact"]
    assert contact["relationship"][0]["coding"][0]["code"] == "C"
    assert contact["relationship"][1] == {"text": "sister"}
    assert contact["name"] == {"text": "Ngozi Okafor"}
    assert {(t["system"], t["value"]) for t in contact["telecom"]} == {
        ("phone", "+16175550123"),
        ("email", "ngozi@example.org"),
    }
    assert "meta" not in patient


def test_an_identifier_value_the_caller_may_not_read_is_left_out_and_labelled(
    session: Session,
) -> None:
    # Clinicians read identifiers (kind, system) but not their values.
    patient = _patient_resource(session, frozenset({"physician"}))
    (identifier,) = patient["identifier"]
    assert "value" not in identifier
    assert identifier["system"] == "urn:oid:1.2.3.4.5"
    assert patient["meta"]["security"][0]["code"] == "REDACTED"
    assert MRN not in str(patient)
    assert patient["contact"][0]["name"] == {"text": "Ngozi Okafor"}


def test_alumni_coordinators_export_no_emergency_contacts(session: Session) -> None:
    # They see contact details only on channels the patient allowed for alumni messages;
    # an emergency contact is not one of the patient's channels.
    patient = _patient_resource(session, frozenset({"alumni_coordinator"}))
    assert "contact" not in patient
    assert "Ngozi" not in str(patient)
