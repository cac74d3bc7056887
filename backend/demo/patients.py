"""Demo patients: who they are, where they live, how to reach them, and their journey."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

from backend.demo.context import DemoContext, JourneyStage, PatientSeed, at, new_id
from backend.demo.names import (
    AREA_CODES,
    EMAIL_DOMAINS,
    FAMILY,
    FEMALE_GIVEN,
    MALE_GIVEN,
    NICKNAMES,
    PLACES,
    SPANISH_FAMILY,
    SPANISH_FEMALE_GIVEN,
    SPANISH_MALE_GIVEN,
    STREET_NAMES,
    STREET_SUFFIXES,
)
from backend.demo.sink import RowSink
from backend.organization.models import CareTeamPatient
from backend.patients.identifiers import hash_ssn
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

MRN_SYSTEM = "https://harborview.example.org/fhir/sid/mrn"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
STAGES = (
    (JourneyStage.INQUIRY, 0.20),
    (JourneyStage.IN_TREATMENT, 0.30),
    (JourneyStage.DISCHARGED, 0.28),
    (JourneyStage.ALUMNI, 0.22),
)
RELATIONSHIPS = ("spouse", "partner", "mother", "father", "sibling", "friend", "adult child")
PRONOUNS = {"female": "she/her", "male": "he/him"}


def make_seed(ctx: DemoContext, index: int) -> PatientSeed:
    """Decide one patient's identity and journey before any domain writes a row."""
    rng = ctx.rng(None, f"patient-seed:{index}")
    sex = "female" if rng.random() < 0.54 else "male"
    hispanic = rng.random() < 0.14
    if hispanic:
        given = rng.choice(SPANISH_FEMALE_GIVEN if sex == "female" else SPANISH_MALE_GIVEN)
        family = rng.choice(SPANISH_FAMILY)
    else:
        given = (FEMALE_GIVEN if sex == "female" else MALE_GIVEN).draw(rng)
        family = FAMILY.draw(rng)
    age_days = int(rng.triangular(18, 78, 34) * 365.25)
    birth = ctx.today - timedelta(days=age_days)
    stage = rng.choices([s for s, _ in STAGES], weights=[w for _, w in STAGES])[0]
    team_id = _team_for(ctx, rng)
    now = ctx.now
    admitted = discharged = None
    if stage is JourneyStage.INQUIRY:
        first = now - timedelta(days=rng.uniform(1, 540))
    elif stage is JourneyStage.IN_TREATMENT:
        admitted = at(now - timedelta(days=rng.uniform(3, 120)), rng)
        first = admitted - timedelta(days=rng.uniform(1, 21))
    else:
        discharged = at(now - timedelta(days=rng.uniform(7, 900)), rng)
        admitted = at(discharged - timedelta(days=rng.uniform(30, 120)), rng)
        first = admitted - timedelta(days=rng.uniform(1, 21))
    return PatientSeed(
        index=index,
        id=new_id(rng),
        given_name=given,
        family_name=family,
        sex=sex,
        birth_date=birth,
        location_id=ctx.care_teams[team_id]["location_id"],
        care_team_id=team_id,
        stage=stage,
        first_contact_at=first,
        admitted_at=admitted,
        discharged_at=discharged,
        facts={"hispanic": hispanic},
    )


def _team_for(ctx: DemoContext, rng: random.Random) -> uuid.UUID:
    teams = list(ctx.care_teams)
    # Most patients at the first site, as in a hub-and-spoke network.
    weights = [0.34, 0.22, 0.14, 0.10, 0.12, 0.08][: len(teams)]
    return rng.choices(teams, weights=weights)[0]


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """Nothing shared: the clinic itself comes from clinic.py."""


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, "patients")
    registered = patient.first_contact_at
    status = (
        PatientStatus.ACTIVE
        if patient.stage is not JourneyStage.DISCHARGED
        else (PatientStatus.INACTIVE if rng.random() < 0.5 else PatientStatus.ACTIVE)
    )
    spanish = bool(patient.facts.get("hispanic")) and rng.random() < 0.45
    patient.facts["patients.language"] = "es" if spanish else "en"
    preferred = NICKNAMES.get(patient.given_name) if rng.random() < 0.5 else None
    sink.add(
        Patient,
        id=patient.id,
        given_name=patient.given_name,
        family_name=patient.family_name,
        middle_name=(FEMALE_GIVEN if patient.sex == "female" else MALE_GIVEN).draw(rng)
        if rng.random() < 0.4
        else None,
        preferred_name=preferred,
        birth_date=patient.birth_date,
        sex=AdministrativeSex(patient.sex),
        pronouns=_pronouns(patient, rng),
        gender_identity=_gender_identity(patient, rng),
        language="es" if spanish else "en",
        interpreter_needed=spanish and rng.random() < 0.4,
        status=status,
        marital_status=rng.choice(("single", "married", "divorced", "separated", "widowed")),
        home_location_id=patient.location_id,
        source_id=f"demo-patient-{patient.index}",
        recorded_at=registered,
        updated_at=registered,
    )
    _contacts(ctx, patient, rng, sink, registered)
    _address(patient, rng, sink, registered)
    _identifiers(ctx, patient, rng, sink, registered)
    sink.add(
        EmergencyContact,
        patient_id=patient.id,
        effective_at=registered,
        name=f"{(MALE_GIVEN if rng.random() < 0.5 else FEMALE_GIVEN).draw(rng)} "
        f"{patient.family_name if rng.random() < 0.6 else FAMILY.draw(rng)}",
        relationship_to_patient=rng.choice(RELATIONSHIPS),
        phone=_phone(rng),
    )
    if patient.admitted_at is not None or rng.random() < 0.5:
        start = (patient.admitted_at or registered).date()
        end = patient.discharged_at.date() + timedelta(days=180) if patient.discharged_at else None
        sink.add(
            CareTeamPatient,
            care_team_id=patient.care_team_id,
            patient_id=patient.id,
            start_date=start,
            end_date=end if end and end < ctx.today else None,
        )


def _pronouns(patient: PatientSeed, rng: random.Random) -> str | None:
    if rng.random() < 0.03:
        return "they/them"
    return PRONOUNS[patient.sex] if rng.random() < 0.7 else None


def _gender_identity(patient: PatientSeed, rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.03:
        return "non-binary"
    if roll < 0.05:
        return "transgender woman" if patient.sex == "male" else "transgender man"
    return ("woman" if patient.sex == "female" else "man") if roll < 0.75 else None


def _phone(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}555{rng.randrange(10000):04d}"


def email_for(given: str, family: str, rng: random.Random) -> str:
    local = f"{given}.{family}".lower().replace(" ", "").replace("'", "")
    if rng.random() < 0.5:
        local += str(rng.randrange(1, 99))
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _contacts(
    ctx: DemoContext, patient: PatientSeed, rng: random.Random, sink: RowSink, when: Any
) -> None:
    mobile = _phone(rng)
    patient.facts["patients.mobile"] = mobile
    verified = patient.admitted_at is not None
    sink.add(
        ContactPoint,
        patient_id=patient.id,
        system=ContactSystem.PHONE,
        value=mobile,
        use=ContactUse.MOBILE,
        verified=verified,
        verified_at=when if verified else None,
        effective_at=when,
    )
    if rng.random() < 0.8:
        sink.add(
            ContactPoint,
            patient_id=patient.id,
            system=ContactSystem.SMS,
            value=mobile,
            use=ContactUse.MOBILE,
            verified=verified,
            effective_at=when,
        )
    if rng.random() < 0.25:
        sink.add(
            ContactPoint,
            patient_id=patient.id,
            system=ContactSystem.WHATSAPP,
            value=mobile,
            use=ContactUse.MOBILE,
            effective_at=when,
        )
    if rng.random() < 0.9:
        email = email_for(patient.given_name, patient.family_name, rng)
        patient.facts["patients.email"] = email
        sink.add(
            ContactPoint,
            patient_id=patient.id,
            system=ContactSystem.EMAIL,
            value=email,
            use=ContactUse.HOME,
            verified=verified and rng.random() < 0.8,
            effective_at=when,
        )


def street_address(rng: random.Random) -> dict[str, Any]:
    city, state, zips = rng.choice(PLACES)
    line2 = f"Apt {rng.randrange(1, 40)}" if rng.random() < 0.35 else None
    return {
        "line1": f"{rng.randrange(1, 999)} {rng.choice(STREET_NAMES)} "
        f"{rng.choice(STREET_SUFFIXES)}",
        "line2": line2,
        "city": city,
        "state": state,
        "postal_code": rng.choice(zips),
    }


def _address(patient: PatientSeed, rng: random.Random, sink: RowSink, when: Any) -> None:
    moved = rng.random() < 0.15
    start = patient.birth_date + timedelta(days=18 * 365)
    if moved:
        moved_on = when.date() - timedelta(days=rng.randrange(30, 700))
        sink.add(
            Address,
            patient_id=patient.id,
            use=AddressUse.OLD,
            period_start=start,
            period_end=moved_on,
            effective_at=when,
            **street_address(rng),
        )
        start = moved_on
    sink.add(
        Address,
        patient_id=patient.id,
        use=AddressUse.HOME,
        period_start=start,
        effective_at=when,
        **street_address(rng),
    )


def _identifiers(
    ctx: DemoContext, patient: PatientSeed, rng: random.Random, sink: RowSink, when: Any
) -> None:
    sink.add(
        PatientIdentifier,
        patient_id=patient.id,
        kind=IdentifierKind.MRN,
        system=MRN_SYSTEM,
        value=f"HV{patient.index + 100000:07d}",
        effective_at=when,
    )
    if patient.admitted_at is not None and rng.random() < 0.6:
        ssn = f"{rng.randrange(1, 665):03d}-{rng.randrange(1, 99):02d}-{rng.randrange(1, 9999):04d}"
        digest, last4 = hash_ssn(ssn, key=ctx.shared["patients.ssn_key"])
        sink.add(
            PatientIdentifier,
            patient_id=patient.id,
            kind=IdentifierKind.SSN,
            system=SSN_SYSTEM,
            value_hash=digest,
            last4=last4,
            effective_at=when,
        )


def near_duplicates(
    ctx: DemoContext,
    seeds: list[PatientSeed],
    sink: RowSink,
) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """Add a handful of second registrations of existing people, and one set of twins.

    Returns (original, duplicate, reason) for the duplicates only: twins are two people
    who share a surname, birth date and address, and a matcher must keep them apart.
    """
    rng = ctx.rng(None, "near-duplicates")
    pairs: list[tuple[uuid.UUID, uuid.UUID, str]] = []
    admitted = [s for s in seeds if s.admitted_at is not None]
    if len(admitted) < 8:
        return pairs
    # Six different people: a person registered twice twice over would be a different case.
    nick_source = next((s for s in admitted if s.given_name in NICKNAMES), admitted[0])
    picks = [nick_source, *rng.sample([s for s in admitted if s is not nick_source], 5)]
    variants = (
        (
            picks[0],
            "nickname",
            {"given_name": NICKNAMES.get(picks[0].given_name, picks[0].given_name[:3])},
        ),
        (picks[1], "typo in family name", {"family_name": _typo(picks[1].family_name, rng)}),
        (picks[2], "moved house", {"moved": True}),
        (
            picks[3],
            "day and month of birth swapped",
            {"birth_date": _swap_day_month(picks[3].birth_date)},
        ),
        (
            picks[4],
            "hyphenated family name",
            {"family_name": f"{picks[4].family_name}-{FAMILY.draw(rng)}"},
        ),
    )
    for original, reason, changes in variants:
        dup_id = _second_registration(ctx, original, rng, sink, changes)
        pairs.append((original.id, dup_id, reason))
    twin = picks[5]
    twin_given = (FEMALE_GIVEN if twin.sex == "female" else MALE_GIVEN).draw(rng)
    _second_registration(ctx, twin, rng, sink, {"given_name": twin_given}, twin=True)
    return pairs


def _second_registration(
    ctx: DemoContext,
    original: PatientSeed,
    rng: random.Random,
    sink: RowSink,
    changes: dict[str, Any],
    twin: bool = False,
) -> uuid.UUID:
    when = original.first_contact_at + timedelta(days=rng.randrange(30, 200))
    when = min(when, ctx.now)
    dup_id = sink.add(
        Patient,
        id=new_id(rng),
        given_name=changes.get("given_name", original.given_name),
        family_name=changes.get("family_name", original.family_name),
        birth_date=changes.get("birth_date", original.birth_date),
        sex=AdministrativeSex(original.sex),
        home_location_id=original.location_id,
        source_system="crm" if not twin else "patient360",
        source_id=f"demo-{'twin' if twin else 'dup'}-{original.index}",
        recorded_at=when,
        updated_at=when,
    )
    sink.add(
        ContactPoint,
        patient_id=dup_id,
        system=ContactSystem.PHONE,
        value=_phone(rng),
        use=ContactUse.MOBILE,
        effective_at=when,
    )
    sink.add(
        Address, patient_id=dup_id, use=AddressUse.HOME, effective_at=when, **street_address(rng)
    )
    return dup_id


def _typo(name: str, rng: random.Random) -> str:
    if len(name) < 4:
        return name + name[-1]
    i = rng.randrange(1, len(name) - 2)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _swap_day_month(born: date) -> date:
    try:
        return born.replace(month=born.day, day=born.month)
    except ValueError:
        return born.replace(day=max(1, born.day - 1))
