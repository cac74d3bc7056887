"""CRM CSV import: mapping checks, dry run, all or nothing, idempotent re-import."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.common.types import LevelOfCare
from backend.engagement.models import Communication
from backend.interop.csv.load import CsvImportError, load_csv
from backend.interop.csv.mapping import MappingError, load_mapping
from backend.journey.models import Admission, Inquiry, InquiryChannel, InquiryOutcome
from backend.patients.models import ContactPoint, Patient

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


def rows(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_dry_run_reports_and_writes_nothing(session: Session) -> None:
    mapping = load_mapping(EXAMPLES / "crm-inquiries.toml")
    before = [rows(session, m) for m in (Patient, Inquiry, Admission)]
    report = load_csv(
        session=session, path=EXAMPLES / "crm-inquiries.csv", mapping=mapping, dry_run=True
    )
    assert report.rows == 3
    assert (report.count("Patient", "create"), report.count("Inquiry", "create")) == (3, 3)
    assert report.count("Admission", "create") == 1
    assert [rows(session, m) for m in (Patient, Inquiry, Admission)] == before


def test_import_then_reimport_changes_nothing_then_an_edit_updates(
    session: Session, tmp_path: Path
) -> None:
    mapping = load_mapping(EXAMPLES / "crm-inquiries.toml")
    csv_path = tmp_path / "leads.csv"
    shutil.copy(EXAMPLES / "crm-inquiries.csv", csv_path)
    load_csv(session=session, path=csv_path, mapping=mapping)
    inquiry = session.scalars(select(Inquiry).where(Inquiry.source_id == "L-1002")).one()
    assert inquiry.channel == InquiryChannel.PHONE
    assert inquiry.outcome == InquiryOutcome.ADMITTED
    assert inquiry.inquiry_at.isoformat() == "2025-03-02T20:40:00+00:00"  # 14:40 Chicago (CST)
    admission = session.scalars(select(Admission).where(Admission.source_id == "L-1002")).one()
    assert (admission.program, admission.level_of_care) == (
        "Adult IOP",
        LevelOfCare.INTENSIVE_OUTPATIENT,
    )
    assert admission.inquiry_id == inquiry.id
    patient = session.get(Patient, inquiry.patient_id)
    assert patient is not None
    assert (patient.given_name, patient.family_name) == ("Sam", "Okafor")
    phone = session.scalars(
        select(ContactPoint.value).where(ContactPoint.patient_id == patient.id)
    ).one()
    assert phone == "+13125550177"

    again = load_csv(session=session, path=csv_path, mapping=mapping)
    assert {c.action for c in again.changes} == {"unchanged"}

    csv_path.write_text(
        csv_path.read_text().replace("Lost,,,", "Won,,,").replace(",Open,", ",Won,")
    )
    changed = load_csv(session=session, path=csv_path, mapping=mapping, dry_run=True)
    updates = [c for c in changed.changes if c.action == "update"]
    assert {(c.record, c.source_id) for c in updates} == {
        ("Inquiry", "L-1001"),
        ("Inquiry", "L-1003"),
    }
    assert all(c.fields == ("outcome",) for c in updates)

    comms = load_mapping(EXAMPLES / "crm-communications.toml")
    load_csv(session=session, path=EXAMPLES / "crm-communications.csv", mapping=comms)
    calls = session.scalars(
        select(Communication).where(Communication.source_system == "acme-crm")
    ).all()
    assert {c.source_id for c in calls} == {"A-9001", "A-9002"}
    assert all(c.patient_id == session.scalars(
        select(Patient.id).where(Patient.source_id == "C-501")
    ).one() for c in calls)  # fmt: skip


def test_bad_rows_are_named_by_line_and_column_and_nothing_is_written(
    session: Session, tmp_path: Path
) -> None:
    mapping = load_mapping(EXAMPLES / "crm-inquiries.toml")
    csv_path = tmp_path / "bad.csv"
    text = (EXAMPLES / "crm-inquiries.csv").read_text()
    text = text.replace("11/30/1985", "1985-13-45").replace("Walk In", "Carrier Pigeon")
    csv_path.write_text(text)
    before = [rows(session, m) for m in (Patient, Inquiry, Admission)]
    with pytest.raises(CsvImportError) as caught:
        load_csv(session=session, path=csv_path, mapping=mapping)
    problems = [str(e) for e in caught.value.errors]
    assert problems == [
        "line 3, column 'DOB': not a date (%m/%d/%Y)",
        "line 4, column 'Source': not one of web_form, phone, referral, walk_in, chat, email, sms "
        "(add a [values] entry)",
    ]
    assert not any("1985-13-45" in p or "Pigeon" in p for p in problems)  # no cell values
    assert [rows(session, m) for m in (Patient, Inquiry, Admission)] == before


def test_a_new_patient_without_a_name_fails_the_whole_file(session: Session) -> None:
    comms = load_mapping(EXAMPLES / "crm-communications.toml")
    before = rows(session, Communication)
    with pytest.raises(CsvImportError) as caught:
        load_csv(session=session, path=EXAMPLES / "crm-communications.csv", mapping=comms)
    assert str(caught.value.errors[0]).startswith("line 2, column 'Contact ID': a new patient")
    assert rows(session, Communication) == before


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[source]\nsystem='x'\nrecord='lead'\n[columns]\nA='id'", "source.record must be one of"),
        ("[source]\nsystem='x'\nrecord='inquiry'\n[columns]\nA='nope'", "unknown field 'nope'"),
        ("[source]\nsystem='x'\nrecord='inquiry'\n[columns]\nA='id'", "must map a column to"),
        ("[source\n", "not valid TOML"),
    ],
)
def test_mapping_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(toml)
    with pytest.raises(MappingError, match=message.replace("[", r"\[")):
        load_mapping(path)
