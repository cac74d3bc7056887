"""Field-level checks: what each handled message type writes into the record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clinical.models import ClinicalNote, NoteKind, NoteStatus
from backend.clinical.results import DiagnosticReport, Interpretation, Observation
from backend.common.types import Code
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.store import Receipt, receive
from backend.journey.models import Admission, AdmissionStatus, Discharge, DischargeDisposition
from backend.patients.models import (
    Address,
    AdministrativeSex,
    ContactPoint,
    EmergencyContact,
    IdentifierKind,
    Patient,
    PatientIdentifier,
    PatientStatus,
)
from backend.scheduling.models import Appointment, AppointmentStatus, Encounter, EncounterStatus
from tests.interop.hl7v2.conftest import SECRET, fixture_text
from tests.interop.hl7v2.test_listener import adt_a04


def feed(session: Session, text: str) -> Receipt:
    receipt = receive(session=session, text=text, secret_key=SECRET)
    assert receipt.state == MessageState.PROCESSED, receipt.error_detail
    return receipt


def only_patient(session: Session, mrn: str) -> Patient:
    return session.scalars(select(Patient).where(Patient.source_id == mrn)).one()


def test_a01_then_a03_admits_and_discharges(session: Session) -> None:
    admit = fixture_text("ADT01-23.hl7")
    receipt = feed(session, admit)
    patient = only_patient(session, "10006579")
    assert (patient.family_name, patient.given_name, patient.middle_name) == ("DUCK", "DONALD", "D")
    assert patient.birth_date is not None
    assert patient.birth_date.isoformat() == "1924-10-10"
    assert patient.sex == AdministrativeSex.MALE
    row = session.get(Hl7Message, receipt.message_id)
    assert row is not None
    assert row.patient_ids == [str(patient.id)]
    ident = session.scalars(
        select(PatientIdentifier).where(PatientIdentifier.patient_id == patient.id)
    ).one()
    assert (ident.kind, ident.value, ident.type_code) == (IdentifierKind.MRN, "10006579", "MR")
    address = session.scalars(select(Address).where(Address.patient_id == patient.id)).one()
    assert (address.line1, address.city, address.state) == ("111 DUCK ST", "FOWL", "CA")
    phones = session.scalars(
        select(ContactPoint.value).where(ContactPoint.patient_id == patient.id)
    )
    assert set(phones) == {"+18885551212"}
    admission = session.scalars(select(Admission).where(Admission.patient_id == patient.id)).one()
    assert admission.status == AdmissionStatus.ACTIVE
    assert admission.source_id == "visit:40007716"
    # PV1-44 20050110045502+0700, stored in UTC.
    assert admission.admitted_at == datetime(2005, 1, 9, 21, 55, 2, tzinfo=UTC)
    encounter = session.scalars(select(Encounter).where(Encounter.patient_id == patient.id)).one()
    assert (encounter.status, encounter.class_code) == (EncounterStatus.IN_PROGRESS, "IMP")

    segments = admit.replace("\n", "\r").split("\r")
    segments[0] = segments[0].replace("ADT^A01", "ADT^A03").replace("|599102|", "|599103|")
    pv1 = segments[4].split("|")
    pv1 += [""] * (50 - len(pv1))
    pv1[36], pv1[45] = "07", "20050112100000+0700"
    segments[4] = "|".join(pv1)
    feed(session, "\r".join(segments))
    session.expire_all()
    admission = session.get_one(Admission, admission.id)
    assert admission.status == AdmissionStatus.FINISHED
    discharge = session.scalars(
        select(Discharge).where(Discharge.admission_id == admission.id)
    ).one()
    assert discharge.disposition == DischargeDisposition.LEFT_AGAINST_ADVICE
    assert discharge.discharged_at == datetime(2005, 1, 12, 3, 0, tzinfo=UTC)
    encounter = session.get_one(Encounter, encounter.id)
    assert encounter.status == EncounterStatus.FINISHED


def _contacts(session: Session, patient: Patient) -> list[tuple[str, str, str | None, bool]]:
    rows = session.scalars(
        select(EmergencyContact)
        .where(EmergencyContact.patient_id == patient.id, EmergencyContact.deleted_at.is_(None))
        .order_by(EmergencyContact.source_id)
    )
    return [(r.name, r.relationship_to_patient, r.phone, r.is_primary) for r in rows]


def test_nk1_segments_become_emergency_contacts(session: Session) -> None:
    feed(session, fixture_text("ADT01-23.hl7"))
    patient = only_patient(session, "10006579")
    # NK1|1|DUCK^HUEY|SO|3583 DUCK RD^^FOWL^CA^999990000|8885552222||Y
    assert _contacts(session, patient) == [("HUEY DUCK", "SO", "+18885552222", True)]
    # An update that sends two NK1s (the second the primary's no longer) replaces them;
    # one with no name is skipped with a warning; one that sends none removes them.
    text = fixture_text("ADT01-23.hl7").replace("\n", "\r")
    lines = text.split("\r")
    at = next(i for i, line in enumerate(lines) if line.startswith("NK1"))
    lines[0] = lines[0].replace("ADT^A01", "ADT^A08").replace("|599102|", "|599104|")
    lines[at : at + 1] = [
        "NK1|1|DUCK^DAISY|SPO^Spouse^HL70063||^NET^Internet^daisy@example.org~(555)555-0199^PRN^CP",
        "NK1|2|^||",
        "NK1|3|DUCK^DEWEY|SON^Son^HL70063",
    ]
    receipt = feed(session, "\r".join(lines))
    stored = session.get(Hl7Message, receipt.message_id)
    assert stored is not None
    assert any("NK1 #2" in str(w) for w in stored.warnings or [])
    session.expire_all()
    assert _contacts(session, patient) == [
        ("DAISY DUCK", "Spouse", "+15555550199", True),
        ("DEWEY DUCK", "Son", None, False),
    ]
    daisy = session.scalars(
        select(EmergencyContact).where(EmergencyContact.name == "DAISY DUCK")
    ).one()
    assert daisy.email == "daisy@example.org"
    # An update without NK1 segments says nothing about them (HL7: no change) ...
    without = [line for line in lines if not line.startswith("NK1")]
    without[0] = without[0].replace("|599104|", "|599105|")
    feed(session, "\r".join(without))
    session.expire_all()
    assert [c[0] for c in _contacts(session, patient)] == ["DAISY DUCK", "DEWEY DUCK"]
    # ... and one NK1 whose name is the explicit null "" removes them all, silently.
    cleared = [*without, 'NK1|1|""']
    cleared[0] = cleared[0].replace("|599105|", "|599106|")
    receipt = feed(session, "\r".join(cleared))
    session.expire_all()
    assert _contacts(session, patient) == []
    assert session.get_one(Hl7Message, receipt.message_id).warnings is None


def _pid_update(text: str, control_id: str, **fields: str) -> str:
    """``text`` as an A08 with a new control id and PID fields (by number) replaced."""
    lines = text.replace("\n", "\r").split("\r")
    msh = lines[0].split("|")
    msh[8], msh[9] = "ADT^A08", control_id
    lines[0] = "|".join(msh)
    at = next(i for i, line in enumerate(lines) if line.startswith("PID|"))
    pid = lines[at].split("|")
    for name, value in fields.items():
        number = int(name.removeprefix("f"))
        pid += [""] * (number + 1 - len(pid))
        pid[number] = value
    lines[at] = "|".join(pid)
    return "\r".join(line for line in lines if line and not line.startswith("NK1"))


def _live_phones(session: Session, patient: Patient) -> list[str]:
    query = select(ContactPoint.value).where(
        ContactPoint.patient_id == patient.id, ContactPoint.deleted_at.is_(None)
    )
    return sorted(session.scalars(query))


def test_an_update_changes_only_what_it_sends(session: Session) -> None:
    """HL7 null semantics: an empty field keeps the value held, "" clears it, a value
    replaces it (all repetitions at once); a literal "" is never stored."""
    admit = fixture_text("ADT01-23.hl7")
    feed(session, admit)
    patient = only_patient(session, "10006579")
    born, sex = patient.birth_date, patient.sex
    phones = _live_phones(session, patient)
    assert phones
    # Birth date, sex, address and phones left empty: all kept.
    feed(session, _pid_update(admit, "U1", f7="", f8="", f11="", f13="", f14=""))
    session.expire_all()
    kept = session.get_one(Patient, patient.id)
    assert (kept.birth_date, kept.sex) == (born, sex)
    live = select(Address).where(Address.patient_id == patient.id, Address.deleted_at.is_(None))
    assert [a.line1 for a in session.scalars(live)] == ["111 DUCK ST"]
    assert _live_phones(session, patient) == phones
    # The explicit null clears: the birth date, the address list, the phone list; a ""
    # middle name is no middle name, not the two characters.
    feed(
        session,
        _pid_update(admit, "U2", f5='DUCK^DONALD^""', f7='""', f11='""', f13='""', f14='""'),
    )
    session.expire_all()
    cleared = session.get_one(Patient, patient.id)
    assert (cleared.birth_date, cleared.middle_name, cleared.sex) == (None, None, sex)
    assert list(session.scalars(live)) == []
    assert _live_phones(session, patient) == []
    # A value replaces: the new address is the only live one.
    feed(session, _pid_update(admit, "U3", f11="9 POND LN^^FOWL^CA^99999"))
    session.expire_all()
    assert [a.line1 for a in session.scalars(live)] == ["9 POND LN"]


def test_a08_updates_the_same_patient(session: Session) -> None:
    feed(session, fixture_text("ADT-A04-01.hl7"))
    patient = only_patient(session, "PATID1234")
    ssn = session.scalars(
        select(PatientIdentifier).where(
            PatientIdentifier.patient_id == patient.id, PatientIdentifier.kind == IdentifierKind.SSN
        )
    ).one()
    assert ssn.value is None
    assert ssn.last4 == "6789"
    assert ssn.value_hash
    update = fixture_text("ADT-A08-01.hl7").replace("EVERYMAN&&&&Aniston^ADAM", "EVERYWOMAN^EVE")
    feed(session, update)
    session.expire_all()
    assert [
        p.id for p in session.scalars(select(Patient).where(Patient.source_id == "PATID1234"))
    ] == [patient.id]
    assert session.get_one(Patient, patient.id).family_name == "EVERYWOMAN"


def test_oru_results_become_reports_and_observations(session: Session) -> None:
    feed(session, fixture_text("LRI_2.0-NG_CBC_Typ_Message.hl7"))
    hemoglobin = session.scalars(
        select(Observation).where(Observation.__table__.c.code_code == "718-7")
    ).one()
    assert hemoglobin.value_quantity == Decimal("12.5")
    assert hemoglobin.value_unit == "g/mL"
    assert (hemoglobin.reference_low, hemoglobin.reference_high) == (Decimal(13), Decimal(18))
    assert hemoglobin.interpretation == Interpretation.LOW
    assert hemoglobin.is_abnormal
    report = session.get(DiagnosticReport, hemoglobin.diagnostic_report_id)
    assert report is not None
    assert report.code == Code(
        "http://loinc.org", "57021-8", "CBC W Auto Differential panel in Blood"
    )
    results = session.scalars(
        select(Observation).where(Observation.diagnostic_report_id == report.id)
    ).all()
    assert len(results) >= 5
    assert all(r.patient_id == report.patient_id for r in results)


def test_oru_obx_without_code_is_a_warning_not_a_loss(session: Session) -> None:
    receipt = feed(session, fixture_text("ORU-R01-01.hl7"))
    row = session.get(Hl7Message, receipt.message_id)
    assert row is not None
    assert row.warnings
    assert any("no OBX-3" in w for w in row.warnings)


def test_siu_book_reschedule_cancel(session: Session) -> None:
    feed(session, fixture_text("SIU-S12-01.hl7"))
    appointment = session.scalars(
        select(Appointment).where(Appointment.source_id == "appt:36996")
    ).one()
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.start_at == datetime(2021, 9, 24, 7, 15, tzinfo=UTC)  # 09:30+02:15
    assert appointment.reason == Code(
        "http://snomed.info/sct", "76164006", "Biopsy of colon (procedure)"
    )
    rescheduled = fixture_text("SIU-S13-01.hl7").replace(
        "TQ1|||||||20210924093000+0215|20210924102000+0215",
        "TQ1|||||||20210925093000+0215|20210925102000+0215",
    )
    feed(session, rescheduled)
    session.expire_all()
    appointment = session.get_one(Appointment, appointment.id)
    assert appointment.start_at == datetime(2021, 9, 25, 7, 15, tzinfo=UTC)
    assert appointment.minutes == 50
    feed(session, fixture_text("SIU-S15-01.hl7"))
    session.expire_all()
    appointment = session.get_one(Appointment, appointment.id)
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancelled_at is not None
    assert session.scalars(
        select(Appointment).where(Appointment.source_id == "appt:36996")
    ).all() == [appointment]


def test_mdm_t02_becomes_a_clinical_note(session: Session) -> None:
    feed(session, fixture_text("MDM-T02-03.hl7"))
    note = session.scalars(
        select(ClinicalNote).where(ClinicalNote.source_id == "doc:2RWRVAJ627408")
    ).one()
    assert note.kind == NoteKind.DISCHARGE_SUMMARY
    assert note.doc_type == Code("http://loinc.org", "18842-5", "Discharge summary")
    assert note.status == NoteStatus.DRAFT  # TXA-17 IP: in progress
    assert note.body.startswith("Toilet cylinder crackers")
    assert note.body.count("\n") >= 12
    patient = session.get(Patient, note.patient_id)
    assert patient is not None
    assert patient.family_name == "Clark"
    assert uuid.UUID(str(note.id))


def test_messages_for_a_merged_mrn_land_on_the_survivor(session: Session) -> None:
    """One person registered twice by one facility under two MRNs: the matcher merges
    the records. An update and an admission sent under the merged MRN then go to the
    survivor; the update rewrites the rows that MRN sent and leaves the other MRN's
    alone (it used to fail on a duplicate identifier and land in the error queue)."""
    tag = uuid.uuid4().hex[:6].upper()
    first, second = f"A{tag}", f"B{tag}"
    feed(session, adt_a04(first, f"{tag}-1", family=f"TWICE{tag}"))
    feed(session, adt_a04(second, f"{tag}-2", family=f"TWICE{tag}"))
    session.expire_all()
    records = {p.source_id: p for p in session.scalars(select(Patient).where(
        Patient.source_id.in_([first, second])))}  # fmt: skip
    assert sorted(p.status.value for p in records.values()) == ["active", "merged"]
    survivor = next(p for p in records.values() if p.status is PatientStatus.ACTIVE)
    merged = next(p for p in records.values() if p.status is PatientStatus.MERGED)
    update = _pid_update(
        adt_a04(merged.source_id, "x", family=f"TWICE{tag}"),
        f"{tag}-3",
        f11="9 POND LN^^FOWL^CA^99999",
    )
    feed(session, update)
    admit = "\r".join(
        [
            f"MSH|^~\\&|TESTAPP|TESTFAC|P360|CLINIC|20240105101500||ADT^A01|{tag}-4|P|2.5.1",
            "EVN|A01|20240105101500",
            f"PID|1||{merged.source_id}^^^TESTFAC^MR||TWICE{tag}^ANNA^M||19800102|F",
            f"PV1|1|I|WARD^1^1||||||||||||||||V{tag}|||||||||||||||||||||||||20240105|",
        ]
    )
    feed(session, admit)
    session.expire_all()
    live = select(Address.line1, Address.source_id).where(
        Address.patient_id == survivor.id, Address.deleted_at.is_(None)
    )
    assert sorted(session.execute(live).tuples()) == [
        ("1 MAIN ST", f"{survivor.source_id}|PID-11|1"),
        ("9 POND LN", f"{merged.source_id}|PID-11|1"),
    ]
    mrns = select(PatientIdentifier.value).where(
        PatientIdentifier.patient_id == survivor.id, PatientIdentifier.deleted_at.is_(None)
    )
    assert sorted(str(v) for v in session.scalars(mrns)) == sorted([first, second])
    admission = session.scalars(select(Admission).where(Admission.patient_id == survivor.id))
    assert len(admission.all()) == 1
    assert session.get_one(Patient, merged.id).status is PatientStatus.MERGED
