"""Patient (with telecom, address, identifier, contact), Practitioner and Organization."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from backend.accounts.models import StaffUser
from backend.common.mixins import utcnow
from backend.interop.fhir.mapping.base import (
    MapContext,
    MappingError,
    Row,
    enum_of,
    first_coding,
    parse_date,
    parse_datetime,
)
from backend.interop.fhir.mapping.common import patient_columns
from backend.organization.models import Organization, OrganizationKind
from backend.patients.identifiers import InvalidSSNError, hash_ssn
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

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
RACE_URL = US_CORE + "us-core-race"
ETHNICITY_URL = US_CORE + "us-core-ethnicity"
BIRTHSEX_URL = US_CORE + "us-core-birthsex"
GEOLOCATION_URL = "http://hl7.org/fhir/StructureDefinition/geolocation"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"

IDENTIFIER_KINDS = {
    "MR": IdentifierKind.MRN,
    "MB": IdentifierKind.MEMBER_ID,
    "SS": IdentifierKind.SSN,
    "DL": IdentifierKind.DRIVERS_LICENSE,
    "PPN": IdentifierKind.PASSPORT,
}
CONTACT_SYSTEMS = {"phone": ContactSystem.PHONE, "sms": ContactSystem.SMS}
CONTACT_SYSTEMS["email"] = ContactSystem.EMAIL


def identifier_kind(identifier: dict[str, Any]) -> tuple[IdentifierKind, str | None]:
    """Our coarse kind and the v2-0203 type code as sent."""
    coding = first_coding(identifier.get("type"))
    type_code = coding.code if coding else None
    if identifier.get("system") == "http://hl7.org/fhir/sid/us-ssn":
        return IdentifierKind.SSN, type_code or "SS"
    return IDENTIFIER_KINDS.get(type_code or "", IdentifierKind.OTHER), type_code


def official_name(names: Any) -> dict[str, Any]:
    if not isinstance(names, list) or not names:
        return {}
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    return chosen if isinstance(chosen, dict) else {}


def _extension_text(ext: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    text = None
    for inner in ext.get("extension", []):
        if inner.get("url") == "text":
            text = inner.get("valueString")
    return text, ext


def map_patient(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    sid = res["id"]
    name = official_name(res.get("name"))
    given = name.get("given") or []
    family = name.get("family")
    if not family and not given:
        raise MappingError("Patient.name", "a patient needs a family or given name")
    values: dict[str, Any] = {
        "given_name": (given[0] if given else "")[:100],
        "middle_name": " ".join(given[1:])[:100] or None,
        "family_name": (family or "")[:100],
        "name_prefix": " ".join(name.get("prefix") or [])[:20] or None,
        "name_suffix": " ".join(name.get("suffix") or [])[:20] or None,
        "birth_date": parse_date(res.get("birthDate"), "Patient.birthDate"),
        "sex": enum_of(AdministrativeSex, res.get("gender", "unknown"), "Patient.gender"),
        "marital_status": _marital(res.get("maritalStatus")),
        "status": PatientStatus.ACTIVE if res.get("active", True) else PatientStatus.INACTIVE,
        "deceased_at": parse_datetime(res.get("deceasedDateTime"), "Patient.deceasedDateTime"),
        "multiple_birth": res.get("multipleBirthBoolean"),
        "multiple_birth_order": res.get("multipleBirthInteger"),
    }
    if res.get("deceasedBoolean") or values["deceased_at"] is not None:
        values["status"] = PatientStatus.DECEASED
    if res.get("multipleBirthInteger") is not None:
        values["multiple_birth"] = True
    other_ext: list[Any] = []
    race = ethnicity = birth_sex = None
    race_detail = ethnicity_detail = None
    for ext in res.get("extension", []):
        url = ext.get("url")
        if url == RACE_URL:
            race, race_detail = _extension_text(ext)
        elif url == ETHNICITY_URL:
            ethnicity, ethnicity_detail = _extension_text(ext)
        elif url == BIRTHSEX_URL:
            birth_sex = ext.get("valueCode")
        else:
            other_ext.append(ext)
    values.update(
        race=(race or "")[:64] or None,
        ethnicity=(ethnicity or "")[:64] or None,
        race_detail=race_detail,
        ethnicity_detail=ethnicity_detail,
        birth_sex=birth_sex,
        extensions=other_ext or None,
    )
    for comm in res.get("communication", []):
        code = first_coding(comm.get("language"))
        if code and code.code:
            values["language"] = code.code[:16]
            break
    patient_id = ctx.ids[("Patient", sid)]
    # A patient matched by MRN keeps its own provenance: update it under its key.
    system, key = ctx.extra.get("patient_keys", {}).get(sid, (ctx.source_system, sid))
    rows = [Row(Patient, system, key, values)]
    rows += _telecom(res, ctx, sid, patient_id)
    rows += _addresses(res, ctx, sid, patient_id)
    rows += _identifiers(res, ctx, sid, patient_id)
    rows += _contacts(res, ctx, sid, patient_id)
    return rows


def _marital(concept: Any) -> str | None:
    code = first_coding(concept)
    if code is None:
        return None
    return (code.display or code.code or "")[:32] or None


def _telecom(res: dict[str, Any], ctx: MapContext, sid: str, pid: Any) -> list[Row]:
    rows = []
    ranks: dict[ContactSystem, int] = {}
    for i, point in enumerate(res.get("telecom", [])):
        system = CONTACT_SYSTEMS.get(point.get("system", ""))
        value = point.get("value")
        if system is None or not value:
            continue  # fax, pager, url: no column holds them (documented gap)
        if system is ContactSystem.EMAIL:
            value = value.lower()
        use = point.get("use")
        rank = point.get("rank") or ranks.get(system, 0) + 1
        ranks[system] = rank
        rows.append(
            Row(
                ContactPoint,
                ctx.source_system,
                f"{sid}/telecom/{i}",
                {
                    "patient_id": pid,
                    "system": system,
                    "value": value[:255],
                    "use": enum_of(ContactUse, use, f"Patient.telecom[{i}].use") if use else None,
                    "rank": rank,
                },
            )
        )
    return rows


def _addresses(res: dict[str, Any], ctx: MapContext, sid: str, pid: Any) -> list[Row]:
    rows = []
    for i, addr in enumerate(res.get("address", [])):
        lines = addr.get("line") or []
        if not lines or not addr.get("city"):
            continue  # a partial address (state only) has no row to live in
        lat = lon = None
        for ext in addr.get("extension", []):
            if ext.get("url") == GEOLOCATION_URL:
                for part in ext.get("extension", []):
                    if part.get("url") == "latitude":
                        lat = float(part["valueDecimal"])
                    elif part.get("url") == "longitude":
                        lon = float(part["valueDecimal"])
        country = addr.get("country") or "US"
        values: dict[str, Any] = {
            "patient_id": pid,
            "use": enum_of(AddressUse, addr.get("use", "home"), f"Patient.address[{i}].use"),
            "line1": lines[0][:200],
            "line2": ", ".join(lines[1:])[:200] or None,
            "city": addr["city"][:100],
            "district": (addr.get("district") or "")[:100] or None,
            "state": (addr.get("state") or "")[:64] or None,
            "postal_code": (addr.get("postalCode") or "")[:16] or None,
            "country": country.upper() if len(country) == 2 else "US",
            "latitude": lat,
            "longitude": lon,
        }
        rows.append(Row(Address, ctx.source_system, f"{sid}/address/{i}", values))
    return rows


def _identifiers(res: dict[str, Any], ctx: MapContext, sid: str, pid: Any) -> list[Row]:
    rows = []
    for i, ident in enumerate(res.get("identifier", [])):
        kind, type_code = identifier_kind(ident)
        value = ident.get("value")
        values: dict[str, Any] = {
            "patient_id": pid,
            "kind": kind,
            "system": (ident.get("system") or "urn:unknown")[:255],
            "type_code": type_code,
            "assigner": ((ident.get("assigner") or {}).get("display") or "")[:200] or None,
            "value": None,
            "value_hash": None,
            "last4": None,
        }
        if kind is IdentifierKind.SSN:
            # Never stored: a keyed hash when it is a real SSN, the last four either way.
            digits = "".join(ch for ch in str(value or "") if ch.isdigit())
            values["last4"] = digits[-4:] or None
            # Test SSNs (999-xx-xxxx) cannot be matched on: keep only the last four.
            with contextlib.suppress(InvalidSSNError):
                values["value_hash"], values["last4"] = hash_ssn(str(value), key=ctx.ssn_key)
        else:
            values["value"] = (value or "")[:128] or None
        rows.append(Row(PatientIdentifier, ctx.source_system, f"{sid}/identifier/{i}", values))
    return rows


def _contacts(res: dict[str, Any], ctx: MapContext, sid: str, pid: Any) -> list[Row]:
    """Patient.contact as emergency contacts, the first one primary (our export lists the
    primary first). A contact with no name (an organization, say) has no row to live in."""
    rows: list[Row] = []
    for i, contact in enumerate(res.get("contact", [])):
        name = contact.get("name") or {}
        text = name.get("text") or " ".join([*(name.get("given") or []), name.get("family") or ""])
        if not text.strip():
            continue
        telecom = {p.get("system"): p.get("value") for p in reversed(contact.get("telecom", []))}
        values: dict[str, Any] = {
            "patient_id": pid,
            "name": text.strip()[:200],
            "relationship_to_patient": _relationship(contact.get("relationship") or [])[:64],
            "phone": (telecom.get("phone") or telecom.get("sms") or "")[:32] or None,
            "email": (telecom.get("email") or "")[:255] or None,
            "is_primary": not rows,
        }
        rows.append(Row(EmergencyContact, ctx.source_system, f"{sid}/contact/{i}", values))
    return rows


def map_related_person(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    """A RelatedPerson as one of the patient's contacts: name, relationship, the first
    phone and e-mail. Never the primary one (Patient.contact says who that is), and an
    inactive one is kept but withdrawn (soft-deleted) so an update can switch it off."""
    values = patient_columns(res, ctx, "RelatedPerson")
    name = official_name(res.get("name"))
    text = name.get("text") or " ".join([*(name.get("given") or []), name.get("family") or ""])
    if not text.strip():
        raise MappingError("RelatedPerson.name", "a related person needs a name")
    telecom = {p.get("system"): p.get("value") for p in reversed(res.get("telecom", []))}
    values.update(
        name=text.strip()[:200],
        relationship_to_patient=_relationship(res.get("relationship") or [])[:64],
        phone=(telecom.get("phone") or telecom.get("sms") or "")[:32] or None,
        email=(telecom.get("email") or "")[:255] or None,
        is_primary=False,
        deleted_at=None if res.get("active", True) else utcnow(),
    )
    return [Row(EmergencyContact, ctx.source_system, res["id"], values)]


def _relationship(concepts: list[dict[str, Any]]) -> str:
    """Who the contact is to the patient: the first concept that says more than "emergency
    contact" (v2-0131 ``C``, which is why every one of them is here), as text."""
    for found in concepts:
        codings = found.get("coding", [])
        others = [c for c in codings if c.get("code") != "C"]
        if codings and not others:
            continue
        if found.get("text"):
            return str(found["text"])
        if others:
            return str(others[0].get("display") or others[0].get("code"))
    return "other"


def map_practitioner(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    """An outside clinician: a login-less, inactive staff user with no roles."""
    sid = res["id"]
    name = official_name(res.get("name"))
    given = " ".join(name.get("given") or [])
    family = name.get("family") or ""
    npi = next(
        (i.get("value") for i in res.get("identifier", []) if i.get("system") == NPI_SYSTEM),
        None,
    )
    digest = hashlib.sha256(f"{ctx.source_system}|{sid}".encode()).hexdigest()[:24]
    addresses = res.get("address")
    values: dict[str, Any] = {
        "username": f"ext-{digest}",  # unique, and no name in it
        "display_name": (" ".join(p for p in (given, family) if p) or "Practitioner")[:200],
        "given_name": given[:100] or None,
        "family_name": family[:100] or None,
        "name_prefix": " ".join(name.get("prefix") or [])[:20] or None,
        "gender": res.get("gender"),
        "npi": (npi or "")[:10] or None,
        "active": False,
        "address": addresses[0] if addresses else None,
    }
    return [Row(StaffUser, ctx.source_system, sid, values)]


def map_organization(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    sid = res["id"]
    if not res.get("name"):
        raise MappingError("Organization.name", "an organization needs a name")
    type_code = first_coding((res.get("type") or [None])[0])
    kind = OrganizationKind.EXTERNAL_PROVIDER
    if type_code and type_code.code in ("pay", "ins"):
        kind = OrganizationKind.PAYER
    address = (res.get("address") or [{}])[0]
    phone = next(
        (t.get("value") for t in res.get("telecom", []) if t.get("system") == "phone"), None
    )
    country = address.get("country")
    values: dict[str, Any] = {
        "name": res["name"][:200],
        "kind": kind,
        "active": res.get("active", True),
        "type_system": type_code.system if type_code else None,
        "type_code": type_code.code if type_code else None,
        "type_display": type_code.display if type_code else None,
        "phone": (phone or "")[:32] or None,
        "line1": ", ".join(address.get("line") or [])[:200] or None,
        "city": address.get("city"),
        "state": address.get("state"),
        "postal_code": address.get("postalCode"),
        "country": country if isinstance(country, str) and len(country) == 2 else None,
    }
    return [Row(Organization, ctx.source_system, sid, values)]
