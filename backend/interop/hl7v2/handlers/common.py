"""What every handler shares: the message context, patients from PID, codes, upserts.

Patients are found by (source system, MRN): the source system is the MRN's assigning
authority (PID-3.4), so two senders that share an MPI share patients, and MRG-1 in a
merge names the same system as PID-3. A patient not found is created. Every created or
updated patient goes through :func:`on_patient_upserted`, which collects the ids
the message's transaction hands to the patient matcher.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from backend.common.mixins import utcnow
from backend.common.types import Code
from backend.db import narrows_row_values, row_in, row_in_params
from backend.identity.routing import resolve_survivor
from backend.interop.hl7v2.parse import (
    Header,
    Hl7ContentError,
    first,
    get,
    parse_hl7_date,
    parse_hl7_datetime,
    repeats,
    segments,
    sent,
)
from backend.mpi.records import Loaded, load, raw_fields
from backend.patients.identifiers import InvalidSSNError, hash_ssn, ssn_key
from backend.patients.models import (
    Address,
    AddressUse,
    AdministrativeSex,
    ContactPoint,
    ContactSystem,
    ContactUse,
    EmergencyContact,
    IdentifierKind,
    Patient,
    PatientIdentifier,
    PatientStatus,
)

T = TypeVar("T")
UPSERTED_KEY = "p360.hl7.upserted_patients"
CREATED_KEY = "p360.hl7.created_patients"
"""session.info: the match records of patients this message created, by id."""

# HL7 coding-system names (table 0396) -> FHIR system URIs.
SYSTEMS = {
    "LN": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10-cm",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "UCUM": "http://unitsofmeasure.org",
    "DCM": "http://dicom.nema.org/resources/ontology/DCM",
}
_SEX = {
    "M": AdministrativeSex.MALE,
    "F": AdministrativeSex.FEMALE,
    "O": AdministrativeSex.OTHER,
    "A": AdministrativeSex.OTHER,
    "N": AdministrativeSex.OTHER,
    "U": AdministrativeSex.UNKNOWN,
}
_COUNTRIES = {"USA": "US", "CAN": "CA", "MEX": "MX", "GBR": "GB", "DEU": "DE", "FRA": "FR"}
_ADDRESS_USE = {"H": AddressUse.HOME, "B": AddressUse.WORK, "O": AddressUse.WORK}
_ADDRESS_USE |= {"C": AddressUse.TEMP, "BA": AddressUse.BILLING, "BI": AddressUse.BILLING}
_PHONE_USE = {"PRN": ContactUse.HOME, "WPN": ContactUse.WORK, "ORN": ContactUse.OLD}


@dataclass
class MessageContext:
    """One message being processed: its header, the session, and what it touched."""

    session: Session
    header: Header
    message: Any
    secret_key: str
    warnings: list[str] = field(default_factory=list)

    @property
    def source_system(self) -> str:
        """The ``source_system`` of records this message creates (not patients)."""
        return system_name(self.header.sending_facility or self.header.sending_application)

    @property
    def event_at(self) -> datetime:
        return event_time(self.message) or (self.header.sent_at or utcnow())


def event_time(message: Any) -> datetime | None:
    """EVN-2 (when the event happened), if the message says."""
    evn = first(message, "EVN")
    return parse_hl7_datetime(get(evn, 2), "EVN-2") if evn is not None and get(evn, 2) else None


def system_name(namespace: str) -> str:
    """A source_system (64 characters) for an HL7 namespace or assigning authority."""
    name = "hl7v2:" + (namespace.split("^")[0] or namespace).strip()
    return name[:64]


def coded(segment: Any, field_no: int, rep: int = 1, *, offset: int = 0) -> Code | None:
    """A CE / CWE / CNE (code^text^system) as a Code; None when it has no code."""
    code = get(segment, field_no, rep, 1 + offset)
    text = get(segment, field_no, rep, 2 + offset)
    system = get(segment, field_no, rep, 3 + offset)
    if not code:
        return None
    uri = SYSTEMS.get(system.upper(), f"urn:hl7v2:{system}" if system else "urn:hl7v2:local")
    return Code(uri, code[:64], (text or None) and text[:255])


def upsert(
    session: Session, model: type[Any], source_system: str, source_id: str
) -> tuple[Any, bool]:
    """The row of ``model`` with this provenance, or a new one added to the session."""
    source_id = source_id[:128]
    found = session.scalars(
        select(model).where(
            model.source_system == source_system,
            model.source_id == source_id,
        )
    ).first()
    if found is not None:
        return found, False
    row = model(source_system=source_system, source_id=source_id)
    session.add(row)
    return row, True


# --- patients --------------------------------------------------------------------------


@dataclass(frozen=True)
class Identifier:
    value: str
    authority: str  # assigning authority namespace (or universal id)
    type_code: str  # v2-0203: MR, SS, DL ...


def _cx(segment: Any, field_no: int, rep: int) -> Identifier | None:
    value = get(segment, field_no, rep, 1)
    if not value:
        return None
    authority = get(segment, field_no, rep, 4, 1) or get(segment, field_no, rep, 4, 2)
    return Identifier(value, authority, get(segment, field_no, rep, 5).upper())


def identifiers(segment: Any, field_no: int) -> list[Identifier]:
    found = [_cx(segment, field_no, r) for r in range(1, max(repeats(segment, field_no), 1) + 1)]
    return [i for i in found if i is not None]


def medical_record_number(pid: Any, header: Header) -> Identifier:
    """PID-3's MR identifier (else its first, else PID-2 / PID-4, all of which older
    senders use); its authority defaults to the sending facility."""
    listed = identifiers(pid, 3)
    candidates = [i for i in listed if i.type_code == "MR"] + [
        i for i in listed if i.type_code not in {"SS", "DL", "PPN"}
    ]
    candidates += identifiers(pid, 2) + identifiers(pid, 4)
    if not candidates:
        raise Hl7ContentError("PID-3", "no patient identifier (MRN)", code="101")
    mrn = candidates[0]
    if not mrn.authority:
        mrn = Identifier(mrn.value, header.sending_facility or header.sending_application, "MR")
    return mrn


PatientKey = tuple[str, str]
"""(source_system, source_id): how a message's MRN names its patient."""
KNOWN_KEY = "p360.hl7.known_patients"
"""session.info: while a batch of messages is applied, the patients its MRNs name, read
in one query (:func:`read_patients`), a None for an MRN known to be new."""
KEY_CHUNK = 400


def patient_key(mrn: Identifier) -> PatientKey:
    return system_name(mrn.authority), mrn.value[:128]


_KEY_COLUMNS = (0, 1)  # source_system and source_id, each searched in the unique index


def _named_by(session: Session, keys: list[PatientKey], *columns: Any) -> Any:
    """``columns`` of the patients whose (source_system, source_id) is one of ``keys``
    (on SQLite narrowed by plain lists, :func:`~backend.db.row_in`: 1.5 ms a batch at
    11,000 patients without, growing with them)."""
    narrow_by = _KEY_COLUMNS if narrows_row_values(session) else ()
    where = row_in((Patient.source_system, Patient.source_id), "keys", narrow_by=narrow_by)
    return session.execute(
        select(*columns).where(where), row_in_params("keys", keys, narrow_by=narrow_by)
    )


def read_patients(session: Session, keys: set[PatientKey]) -> dict[PatientKey, Patient | None]:
    """The patients these MRNs name, in one query (per chunk), None for those not held:
    what :func:`find_patient` answers from while a batch is applied."""
    found: dict[PatientKey, Patient | None] = dict.fromkeys(keys)
    wanted = sorted(keys)
    for start in range(0, len(wanted), KEY_CHUNK):
        for patient in _named_by(session, wanted[start : start + KEY_CHUNK], Patient).scalars():
            found[(patient.source_system, patient.source_id)] = patient
    return found


def known_keys(session: Session, keys: set[PatientKey]) -> set[PatientKey]:
    """Which of these MRNs name a patient held (keys only: no patient loaded)."""
    held: set[PatientKey] = set()
    wanted = sorted(keys)
    for start in range(0, len(wanted), KEY_CHUNK):
        part = wanted[start : start + KEY_CHUNK]
        held.update(_named_by(session, part, Patient.source_system, Patient.source_id).tuples())
    return held


def find_patient(
    session: Session, mrn: Identifier, *, follow_merges: bool = True
) -> Patient | None:
    """The patient the MRN names: its record, or the survivor the record was merged
    into (the matcher, staff or an A40 merged it): what the message says goes where the
    person's record now is, as every read of a merged patient's id resolves. Without
    ``follow_merges`` the record itself (an A40 asks about the merged one)."""
    key = patient_key(mrn)
    known: dict[PatientKey, Patient | None] = session.info.get(KNOWN_KEY, {})
    patient: Patient | None = None
    if key in known:
        patient = known[key]
        if patient is None:
            return None
        state = inspect(patient)
        if not (state.persistent or state.pending):
            patient = None  # created by a message whose savepoint rolled back: ask
    if patient is None:
        patient = session.scalars(
            select(Patient).where(Patient.source_system == key[0], Patient.source_id == key[1])
        ).first()
    if follow_merges and patient is not None and patient.status is PatientStatus.MERGED:
        return session.get(Patient, resolve_survivor(session, patient.id))
    return patient


def remember_patient(session: Session, patient: Patient) -> None:
    """A patient created here: later messages of the batch find it without a query."""
    known: dict[PatientKey, Patient | None] | None = session.info.get(KNOWN_KEY)
    if known is not None:
        known[(patient.source_system, patient.source_id)] = patient


def on_patient_upserted(session: Session, patient_id: uuid.UUID) -> None:
    """A patient was created or changed by an HL7 message (or a CSV row): the id is
    collected, and the message's (or file's) transaction hands them all to the patient
    matcher (:func:`backend.mpi.hooks.patients_changed`) before it commits."""
    session.info.setdefault(UPSERTED_KEY, []).append(patient_id)


def forget_created(session: Session, patient_id: uuid.UUID) -> None:
    """The message changes this patient again (a second PID, a merge): its match record
    built at creation is stale, so the matcher reads the patient from the database."""
    session.info.get(CREATED_KEY, {}).pop(patient_id, None)


def check_pid(message: Any, header: Header, *, demographics: bool = True) -> tuple[Any, Identifier]:
    """The PID segment and its MRN, or the content error that stops the message; with
    ``demographics`` (a message that replaces them: ADT) also the name and the dates
    :func:`patient_from_pid` writes. Needs no database: the listener runs it before it
    acknowledges a message it applies later, and the handler runs it again."""
    pid = first(message, "PID")
    if pid is None:
        raise Hl7ContentError("PID", "the message has no PID segment", code="100")
    mrn = medical_record_number(pid, header)
    if demographics:
        _name(pid)
        _dates(pid)
    return pid, mrn


@dataclass(frozen=True)
class NewPatient:
    """A patient a message creates, with its rows, in no session yet: the ORM path adds
    them to the session, a batch of registrations inserts them in bulk."""

    patient: Patient
    rows: list[Any]  # identifiers, addresses, contact points, emergency contacts
    loaded: Loaded  # what the matcher would read back


class RowOwner(NamedTuple):
    """Whose rows a message's PID writes: the patient's (the survivor, when the MRN's
    record was merged), keyed under the MRN's source key, so the rows this source sent
    are found again and the merged-in ones from other MRNs are left alone."""

    patient: Patient
    system: str
    source_id: str


def _map_pid(
    ctx: MessageContext, patient: Patient, pid: Any, mrn: Identifier, *, created: bool
) -> tuple[list[PatientIdentifier], list[Address], list[ContactPoint], list[EmergencyContact]]:
    """PID (and NK1) into the patient and its rows: every field for a patient this
    message creates, what the message sends for an update. The rows it wrote."""
    _demographics(patient, pid, created=created)
    owner = RowOwner(patient, *patient_key(mrn))
    return (
        _sync_identifiers(ctx, owner, pid, mrn, created=created),
        _sync_addresses(ctx, owner, pid, created=created),
        _sync_phones(ctx, owner, pid, created=created),
        _sync_next_of_kin(ctx, owner, created=created),
    )


def new_patient(ctx: MessageContext, pid: Any, mrn: Identifier) -> NewPatient:
    """The patient PID describes and its rows, mapped exactly as an update maps them."""
    system, source_id = patient_key(mrn)
    patient = Patient(id=uuid.uuid4(), source_system=system, source_id=source_id)
    identifiers_, addresses, phones, contacts = _map_pid(ctx, patient, pid, mrn, created=True)
    # What the matcher would read back: it is all in hand (nobody else can see the
    # patient before this transaction commits), so it reads nothing.
    raw = raw_fields(patient, phones, addresses, identifiers_)
    rows: list[Any] = [*identifiers_, *addresses, *phones, *contacts]
    return NewPatient(patient, rows, load(raw, patient.id))


def patient_from_pid(ctx: MessageContext, *, update: bool = True) -> Patient:
    """Find the PID's patient by (system, MRN) or create it; with ``update`` its
    demographics, identifiers, addresses and phones are replaced by the message's."""
    pid, mrn = check_pid(ctx.message, ctx.header, demographics=update)
    patient = find_patient(ctx.session, mrn)
    if patient is None:
        new = new_patient(ctx, pid, mrn)
        patient = new.patient
        # One flush inserts the patient and its rows (the unit of work puts the patient
        # first: the rows' foreign key says so).
        ctx.session.add_all([patient, *new.rows])
        ctx.session.info.setdefault(CREATED_KEY, {})[patient.id] = new.loaded
        remember_patient(ctx.session, patient)
    elif update:
        # An update leaves what the message does not mention alone (HL7: an absent
        # field means "no change").
        _map_pid(ctx, patient, pid, mrn, created=False)
        forget_created(ctx.session, patient.id)
    on_patient_upserted(ctx.session, patient.id)
    return patient


def _name(pid: Any) -> tuple[str, str]:
    family = get(pid, 5, 1, 1, 1)
    given = get(pid, 5, 1, 2)
    if not family and not given:
        raise Hl7ContentError("PID-5", "the patient has no name", code="101")
    return family, given


def _dates(pid: Any) -> tuple[date | None, datetime | None]:
    """PID-7 (birth) and PID-29 (death); empty (or ``""``) is None."""
    return parse_hl7_date(get(pid, 7), "PID-7"), parse_hl7_datetime(get(pid, 29), "PID-29")


def _demographics(patient: Patient, pid: Any, *, created: bool) -> None:
    """Name (required, always replaced) and the other PID fields the message sends; on
    an update a field left empty keeps what we hold and ``""`` clears it."""
    family, given = _name(pid)
    born, died = _dates(pid)
    patient.family_name = family[:100]
    patient.given_name = given[:100]
    patient.middle_name = get(pid, 5, 1, 3)[:100] or None
    patient.name_suffix = get(pid, 5, 1, 4)[:20] or None
    patient.name_prefix = get(pid, 5, 1, 5)[:20] or None

    def says(field_no: int) -> bool:
        return created or sent(pid, field_no)

    if says(7):
        patient.birth_date = born
    if says(8):
        patient.sex = _SEX.get(get(pid, 8).upper(), AdministrativeSex.UNKNOWN)
    if says(16):
        patient.marital_status = get(pid, 16, comp=2)[:32] or get(pid, 16)[:32] or None
    if says(10):
        patient.race = get(pid, 10, comp=2)[:64] or get(pid, 10)[:64] or None
    if says(22):
        patient.ethnicity = get(pid, 22, comp=2)[:64] or get(pid, 22)[:64] or None
    language = get(pid, 15)
    if re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        patient.language = language.lower()[:16]
    if died is not None or get(pid, 30).upper() == "Y":
        patient.status = PatientStatus.DECEASED
        patient.deceased_at = died
    elif patient.status is None or (
        patient.status == PatientStatus.DECEASED and (sent(pid, 29) or sent(pid, 30))
    ):
        # Only a message that says so (PID-30 "N", or "" for the death date) brings a
        # deceased patient back; one that leaves both fields empty changes nothing.
        patient.status = PatientStatus.ACTIVE
        patient.deceased_at = None


CHILDREN_KEY = "p360.hl7.children"
"""session.info: while a batch of messages is applied, the PID-mapped rows of the
patients its MRNs name (:class:`Children`)."""
_CHILD_MODELS: tuple[type[Any], ...] = (PatientIdentifier, Address, ContactPoint, EmergencyContact)


@dataclass
class Children:
    """The identifiers, addresses, contact points and emergency contacts of some
    patients, read in one query per table for a batch: an update's look-up of the rows
    it rewrites (three or four queries, each flushing the session first) answers from
    here. Rows a message adds are added here too, for a later message of the batch."""

    patients: set[uuid.UUID]
    rows: dict[tuple[type[Any], uuid.UUID, str], dict[str, Any]]

    def of(self, model: type[Any], owner: RowOwner) -> dict[str, Any] | None:
        """The owner's rows of ``model``, or None when its patient was not read here."""
        if owner.patient.id not in self.patients:
            return None
        held = self.rows.get((model, owner.patient.id, owner.system), {})
        # A row added by a message whose savepoint rolled back is gone.
        return {k: r for k, r in held.items() if inspect(r).persistent or inspect(r).pending}

    def add(self, row: Any) -> None:
        self.rows.setdefault((type(row), row.patient_id, row.source_system), {})[row.source_id] = (
            row
        )


def read_children(session: Session, patients: Iterable[Patient]) -> None:
    """Read the batch's known patients' rows (:class:`Children`) into the session."""
    ids = sorted({p.id for p in patients})
    children = Children(set(ids), {})
    for model in _CHILD_MODELS:
        for start in range(0, len(ids), KEY_CHUNK):
            for row in session.scalars(
                select(model).where(model.patient_id.in_(ids[start : start + KEY_CHUNK]))
            ):
                children.add(row)
    session.info[CHILDREN_KEY] = children


def forget_children(session: Session) -> None:
    """Rows were moved between patients (a merge): later look-ups ask the database."""
    session.info.pop(CHILDREN_KEY, None)


def _children(session: Session, model: type[T], owner: RowOwner) -> dict[str, T]:
    mine = owner.source_id + "|"
    batch: Children | None = session.info.get(CHILDREN_KEY)
    held = batch.of(model, owner) if batch is not None else None
    if held is None:
        rows = session.scalars(
            select(model).where(
                model.patient_id == owner.patient.id,  # type: ignore[attr-defined]
                model.source_system == owner.system,  # type: ignore[attr-defined]
            )
        )
        held = {r.source_id: r for r in rows}  # type: ignore[attr-defined]
    return {source_id: r for source_id, r in held.items() if source_id.startswith(mine)}


def _sync(
    ctx: MessageContext,
    model: type[Any],
    owner: RowOwner,
    prefix: str,
    wanted: list[dict[str, Any]],
    *,
    created: bool,
    mentioned: bool = True,
) -> list[Any]:
    """Make this patient's ``model`` rows from this source equal ``wanted``: update in
    place by position, add new ones, soft-delete the ones the message no longer sends;
    returns the rows it wrote. A patient this message created has no rows yet: no
    look-up (the hot path of a feed of registrations). When the message does not
    mention the field or segment at all (``mentioned``), an update keeps every row: HL7
    snapshot processing replaces repetitions only when some (or ``""``) are sent."""
    if not (created or mentioned):
        return []
    system = owner.system
    existing = {} if created else _children(ctx.session, model, owner)
    keep: set[str] = set()
    live: list[Any] = []
    for n, values in enumerate(wanted, start=1):
        source_id = f"{owner.source_id}|{prefix}|{n}"[:128]
        keep.add(source_id)
        row = existing.get(source_id)
        if row is None:
            row = model(
                id=uuid.uuid4(),
                patient_id=owner.patient.id,
                source_system=system,
                source_id=source_id,
            )
            if not created:  # a new patient's rows are added (or inserted) with it
                ctx.session.add(row)
                batch: Children | None = ctx.session.info.get(CHILDREN_KEY)
                if batch is not None:
                    batch.add(row)
        for key, value in values.items():
            if getattr(row, key, None) != value:
                setattr(row, key, value)
        row.deleted_at = None
        live.append(row)
    for source_id, row in existing.items():
        if source_id.split("|")[-2:-1] == [prefix] and source_id not in keep:
            row.deleted_at = row.deleted_at or utcnow()
    return live


def _sync_identifiers(
    ctx: MessageContext, owner: RowOwner, pid: Any, mrn: Identifier, *, created: bool
) -> list[PatientIdentifier]:
    wanted: list[dict[str, Any]] = []
    for ident in identifiers(pid, 3) or [mrn]:
        if ident.type_code == "SS":
            try:
                hashed, last4 = hash_ssn(ident.value, key=ssn_key(ctx.secret_key))
            except InvalidSSNError:
                ctx.warnings.append("PID-3: an SSN that is not valid was not stored")
                continue
            wanted.append(
                {"kind": IdentifierKind.SSN, "system": "http://hl7.org/fhir/sid/us-ssn",
                 "value": None, "value_hash": hashed, "last4": last4, "type_code": "SS"}
            )  # fmt: skip
            continue
        kind = IdentifierKind.MRN if ident.type_code in {"MR", ""} else IdentifierKind.OTHER
        kind = IdentifierKind.DRIVERS_LICENSE if ident.type_code == "DL" else kind
        kind = IdentifierKind.PASSPORT if ident.type_code == "PPN" else kind
        kind = IdentifierKind.MEMBER_ID if ident.type_code in {"MB", "MC", "MA"} else kind
        authority = ident.authority or mrn.authority
        wanted.append(
            {"kind": kind, "system": system_name(authority).removeprefix("hl7v2:")[:255],
             "value": ident.value[:128], "value_hash": None, "last4": None,
             "assigner": authority[:200] or None, "type_code": ident.type_code[:16] or None}
        )  # fmt: skip
    return _sync(ctx, PatientIdentifier, owner, "PID-3", wanted, created=created)


def _sync_addresses(
    ctx: MessageContext, owner: RowOwner, pid: Any, *, created: bool
) -> list[Address]:
    wanted: list[dict[str, Any]] = []
    for rep in range(1, repeats(pid, 11) + 1):
        line1 = get(pid, 11, rep, 1, 1)
        if not line1:
            continue
        country = get(pid, 11, rep, 6).upper()
        wanted.append(
            {"line1": line1[:200], "line2": get(pid, 11, rep, 2)[:200] or None,
             "city": get(pid, 11, rep, 3)[:100], "state": get(pid, 11, rep, 4)[:64] or None,
             "postal_code": get(pid, 11, rep, 5)[:16] or None,
             "country": _COUNTRIES.get(country, country if len(country) == 2 else "US"),
             "district": get(pid, 11, rep, 9)[:100] or None,
             "use": _ADDRESS_USE.get(get(pid, 11, rep, 7).upper(), AddressUse.HOME)}
        )  # fmt: skip
    return _sync(ctx, Address, owner, "PID-11", wanted, created=created, mentioned=sent(pid, 11))


def e164(raw: str) -> str | None:
    """A North American number as E.164 (+1...), else the digits with a plus; None if
    there are too few digits to be a phone number."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return "+" + digits if 8 <= len(digits) <= 15 else None


def _phone(pid: Any, field_no: int, rep: int) -> dict[str, Any] | None:
    email = get(pid, field_no, rep, 4)
    equipment = get(pid, field_no, rep, 3).upper()
    if equipment in {"INTERNET", "X.400"} or (email and "@" in email):
        # An "Internet" entry without an address in XTN-4 (senders do put a phone
        # number in XTN-1 and mark it Internet) is nothing to store.
        if "@" not in email:
            return None
        return {"system": ContactSystem.EMAIL, "value": email.lower()[:255], "use": None}
    area, local = get(pid, field_no, rep, 6), get(pid, field_no, rep, 7)
    number = e164(area + local if local else get(pid, field_no, rep, 1))
    if number is None:
        return None
    use = _PHONE_USE.get(get(pid, field_no, rep, 2).upper())
    use = ContactUse.MOBILE if equipment == "CP" else use
    use = use or (ContactUse.HOME if field_no == 13 else ContactUse.WORK)
    return {"system": ContactSystem.PHONE, "value": number, "use": use}


def _sync_phones(
    ctx: MessageContext, owner: RowOwner, pid: Any, *, created: bool
) -> list[ContactPoint]:
    wanted: list[dict[str, Any]] = []
    for field_no in (13, 14):  # PID-13 home, PID-14 business
        for rep in range(1, repeats(pid, field_no) + 1):
            found = _phone(pid, field_no, rep)
            if found is not None:
                wanted.append(found)
    ranks: dict[ContactSystem, int] = {}
    for row in wanted:
        ranks[row["system"]] = ranks.get(row["system"], 0) + 1
        row["rank"] = ranks[row["system"]]
    # PID-13 and PID-14 share one list (one prefix): either field sent replaces it.
    mentioned = sent(pid, 13) or sent(pid, 14)
    return _sync(ctx, ContactPoint, owner, "PID-13", wanted, created=created, mentioned=mentioned)


def _sync_next_of_kin(
    ctx: MessageContext, owner: RowOwner, *, created: bool
) -> list[EmergencyContact]:
    """NK1 segments as the patient's emergency contacts (the first is the primary one):
    name, relationship (NK1-3's text, else its code) and the first phone or e-mail of
    NK1-5 (home) or NK1-6 (business). A segment without a name is skipped with a
    warning; one whose name is ``""`` is HL7's "delete them all". A message without NK1
    segments leaves the contacts we hold alone (most updates do not repeat them)."""
    wanted: list[dict[str, Any]] = []
    sent_nk1 = segments(ctx.message, "NK1")
    for n, nk1 in enumerate(sent_nk1, start=1):
        name = " ".join(part for part in (get(nk1, 2, 1, 2), get(nk1, 2, 1, 1, 1)) if part)
        if not name:
            if not sent(nk1, 2):
                ctx.warnings.append(f"NK1 #{n}: a contact without a name was not stored")
            continue
        relationship = get(nk1, 3, 1, 2) or get(nk1, 3) or "unknown"
        row: dict[str, Any] = {
            "name": name[:200],
            "relationship_to_patient": relationship[:64],
            "phone": None,
            "email": None,
            "is_primary": not wanted,
        }
        for field_no in (5, 6):
            for rep in range(1, repeats(nk1, field_no) + 1):
                found = _phone(nk1, field_no, rep)
                if found is None:
                    continue
                # _phone already bounds both: e-mail to 255, a phone is E.164 (<= 16).
                key = "email" if found["system"] is ContactSystem.EMAIL else "phone"
                row[key] = row[key] or found["value"]
        wanted.append(row)
    return _sync(
        ctx, EmergencyContact, owner, "NK1", wanted, created=created, mentioned=bool(sent_nk1)
    )
