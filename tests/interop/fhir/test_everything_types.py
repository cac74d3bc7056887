"""``Patient/$everything`` covers every record type the importer maps, plus raw resources,
and every resource it returns validates with the fhir.resources R4B models."""

from __future__ import annotations

import base64
import uuid
from collections import Counter

from sqlalchemy.orm import Session

from backend.access.policy import policy_store
from backend.access.principal import Principal, PrincipalKind
from backend.interop.fhir.exporter import everything
from backend.interop.fhir.validation import validate_model
from backend.settings import get_settings
from tests.interop.fhir.extra_bundle import NOTE, extra_bundle
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
