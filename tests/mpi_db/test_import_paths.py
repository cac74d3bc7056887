"""Every import path runs the matcher in its own transaction, on both databases: FHIR
bundles, HL7 v2 A04/A08 and the CRM CSV import."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.identity.models import LinkStatus
from backend.interop.csv.load import load_csv
from backend.interop.csv.mapping import load_mapping
from backend.interop.fhir.importer import import_batch
from backend.interop.fhir.reader import bundle_from_json
from backend.interop.hl7v2.store import receive
from backend.patients.models import Patient, PatientStatus
from tests.mpi_db.factory import links, open_count, surname

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
KEY = b"k" * 32
SECRET = "s" * 40


def fhir_patient(pid: str, given: str, family: str, **extra: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [given]}],
        "birthDate": "1988-07-14",
        "gender": "female",
        "telecom": [{"system": "phone", "value": "+12175550123"}],
        "address": [{"line": ["12 Cedar Ln"], "city": "Springfield", "postalCode": "62704"}],
        **extra,
    }
    return {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource}


def bundle(source: str, *entries: dict[str, Any]) -> Any:
    raw: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "meta": {"source": source},
    }
    raw["entry"] = list(entries)
    return bundle_from_json(raw, label=source)


def ids_of(session: Session, family: str) -> dict[str, uuid.UUID]:
    rows = session.execute(
        select(Patient.given_name, Patient.id).where(Patient.family_name == family)
    )
    return {given: pid for given, pid in rows.tuples()}


def test_fhir_import_suggests_twins_and_merges_the_same_person(session: Session) -> None:
    family = surname()
    twins = bundle(
        "clinic-a", fhir_patient("a1", "Rose", family), fhir_patient("a2", "Lily", family)
    )
    report = import_batch(session=session, batch=twins, ssn_key=KEY)
    assert len(report.patients_upserted) == 2
    people = ids_of(session, family)
    assert open_count(session, people["Rose"], people["Lily"]) == 1
    telecom = [
        {"system": "email", "value": f"{family}@example.org"},
        {"system": "phone", "value": "+12175550123"},
    ]
    again = bundle("lab-b", fhir_patient("b1", "Rose", family, telecom=telecom))
    import_batch(session=session, batch=again, ssn_key=KEY)
    rows = session.execute(
        select(Patient.source_system, Patient.status).where(Patient.family_name == family)
    ).all()
    assert sorted((str(s), str(st)) for s, st in rows) == [
        ("clinic-a", "active"),
        ("clinic-a", "active"),
        ("lab-b", "merged"),
    ]


def adt(event: str, mrn: str, control: str, family: str, given: str) -> str:
    return "\r".join(
        [
            f"MSH|^~\\&|REG|FAC|P360|CLINIC|20260105101500||ADT^{event}|{control}|P|2.5.1",
            f"EVN|{event}|20260105101500",
            f"PID|1||{mrn}^^^FAC^MR||{family}^{given}||19800102|F|||"
            "1 MAIN ST^^SPRINGFIELD^IL^62701^USA||(217)555-0100",
        ]
    )


def test_hl7_a04_suggests_and_a08_that_makes_them_one_person_merges(session: Session) -> None:
    family = surname().upper()
    tag = uuid.uuid4().hex[:8]
    for n, given in ((1, "ANNA"), (2, "MARIA")):
        ack = receive(
            session=session, text=adt("A04", f"{tag}-{n}", f"{tag}A{n}", family, given),
            secret_key=SECRET,
        )  # fmt: skip
        assert ack.ack_code == "AA", ack.error_detail
    people = ids_of(session, family)
    (suggestion,) = links(session, *people.values())
    assert suggestion.status is LinkStatus.OPEN
    # The registrar corrects the second record's given name: now one person.
    update = adt("A08", f"{tag}-2", f"{tag}U2", family, "ANNA")
    assert receive(session=session, text=update, secret_key=SECRET).ack_code == "AA"
    session.expire_all()
    statuses = session.execute(select(Patient.status).where(Patient.family_name == family))
    assert sorted(str(s) for s in statuses.scalars()) == ["active", "merged"]


def test_csv_import_matches_each_new_contact(session: Session, tmp_path: Path) -> None:
    family = surname()
    header = (EXAMPLES / "crm-inquiries.csv").read_text().splitlines()[0]
    tag = uuid.uuid4().hex[:8]
    row = "L-{n}-{tag},C-{n}-{tag},{given},{family},04/12/1990,(312) 555-0142,{email},03/01/2025 09:15,Web Form,Sleep,Normal,,Open,,,"  # noqa: E501
    lines = [
        row.format(n=1, tag=tag, given="Jordan", family=family, email=f"j@{family}.org"),
        row.format(n=2, tag=tag, given="Jordan", family=family, email=f"j@{family}.org"),
        row.format(n=3, tag=tag, given="Casey", family=family, email=""),
    ]
    path = tmp_path / "leads.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    load_csv(session=session, path=path, mapping=load_mapping(EXAMPLES / "crm-inquiries.toml"))
    session.expire_all()
    rows = session.execute(
        select(Patient.given_name, Patient.status, Patient.id).where(Patient.family_name == family)
    ).all()
    statuses = sorted((g, str(s)) for g, s, _ in rows)
    assert statuses == [("Casey", "active"), ("Jordan", "active"), ("Jordan", "merged")]
    live = [pid for _, s, pid in rows if s is not PatientStatus.MERGED]
    assert open_count(session, *live) == 1  # Casey and Jordan share phone and birth date
