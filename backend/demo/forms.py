"""Demo form data: the built-in definitions, a completed intake per admitted patient (its
answers agree with the patient, their coverage and why they came), half-finished intakes of
some inquiries, and satisfaction surveys and PHQ-9 check-ins for some others.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.accounts.models import StaffRole
from backend.common.types import Sensitivity
from backend.demo.context import DemoContext, JourneyStage, PatientSeed, between
from backend.demo.sink import RowSink
from backend.forms.definitions import (
    BUILT_IN_FORMS,
    FORM_URL,
    GAD7_ITEMS,
    PHQ9_ITEMS,
    form_by_key,
    score_answers,
)
from backend.forms.models import (
    FormDefinition,
    FormResponse,
    FormStatus,
    ResponseStatus,
    SubmitterKind,
)

PUBLISHED = datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
INTAKE_STEP_IDS = [step["id"] for step in form_by_key("intake")["schema"]["steps"]]
CITIES = (
    ("Boston", "02116"), ("Somerville", "02143"), ("Quincy", "02169"), ("Brookline", "02445"),
    ("Cambridge", "02138"), ("Medford", "02155"), ("Arlington", "02474"),
    ("Worcester", "01608"), ("Shrewsbury", "01545"), ("Leominster", "01453"),
)  # fmt: skip
STREETS = ("Maple St", "Washington St", "Elm St", "Beacon St", "Highland Ave", "Park Ave")
CONTACT_NAMES = ("Linda", "Robert", "Maria", "James", "Ana", "Michael", "Keisha", "Thomas")
STORIES = {
    "depression": "I've been feeling low for months, can't get out of bed some days and stopped "
    "seeing friends.",
    "anxiety": "Constant worry, trouble sleeping, and panic attacks at work.",
    "trauma": "Nightmares and flashbacks since an assault; I avoid going out.",
    "alcohol": "My drinking has gotten out of hand and my family is worried. I tried to stop "
    "on my own and couldn't.",
    "opioids": "I've been using opioids for two years and want to get on treatment and stay clean.",
    "attention": "I can't focus at work or finish anything; always been this way.",
    "mood_swings": "Periods of very low mood and then weeks where I barely sleep.",
    "grief": "Since my father died I can't cope, and work is suffering.",
}
MEDICATIONS = {
    "depression": "Sertraline 50 mg once daily",
    "anxiety": "Escitalopram 10 mg daily; hydroxyzine 25 mg as needed",
    "opioids": "Buprenorphine/naloxone 8 mg/2 mg film daily",
    "alcohol": "Naltrexone 50 mg daily",
    "attention": "Methylphenidate ER 36 mg every morning",
    "mood_swings": "Lamotrigine 100 mg daily",
}
MEDICAL_HISTORY = ("none", "none", "none", "hypertension", "asthma", "chronic_pain", "diabetes")
REFERRALS = ("self", "family", "pcp", "hospital", "therapist", "court", "eap", "online", "alumni")
REFERRAL_WEIGHTS = (26, 14, 18, 10, 8, 5, 6, 10, 3)
REFERRERS = {
    "pcp": "Dr. Rachel Kim, Back Bay Family Medicine",
    "hospital": "Massachusetts General Hospital Emergency Department",
    "therapist": "Dr. Alan Greene",
    "court": "Suffolk County Probation",
    "eap": "Bright Horizons EAP",
    "school": "Boston University Student Health",
}
HIGH_SCORE = {"phq9": ("depression", "grief", "mood_swings"), "gad7": ("anxiety", "trauma")}


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """The built-in form definitions, active since the demo clinic opened."""
    ids: dict[str, uuid.UUID] = {}
    for form in BUILT_IN_FORMS:
        code = form["code"] or {}
        ids[form["key"]] = sink.add(
            FormDefinition,
            key=form["key"],
            form_version=form["form_version"],
            title=form["title"],
            description=form["description"],
            status=FormStatus.ACTIVE,
            url=f"{FORM_URL}{form['key']}",
            code_system=code.get("system"),
            code_code=code.get("code"),
            code_display=code.get("display"),
            schema=form["schema"],
            published_at=PUBLISHED,
            recorded_at=PUBLISHED,
        )
    ctx.shared["forms.definitions"] = ids


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, "forms")
    definitions: dict[str, uuid.UUID] = ctx.shared["forms.definitions"]
    reason = patient.facts.get("scheduling.primary_reason") or ("F41.1", "", "anxiety", False)
    sensitivity = Sensitivity.PART2 if reason[3] else Sensitivity.NONE
    answers = intake_answers(patient, rng, reason[2])
    base = {"patient_id": patient.id, "sensitivity": sensitivity}
    if patient.admitted_at is None or patient.stage is JourneyStage.INQUIRY:
        if rng.random() < 0.45:  # started the intake online, never finished
            done = rng.randint(1, 5)
            partial = {k: v for k, v in answers.items() if _step_of(k) < done}
            started = patient.first_contact_at + timedelta(hours=rng.randint(1, 72))
            started = min(started, ctx.now)
            sink.add(
                FormResponse,
                **base,
                effective_at=started,
                definition_id=definitions["intake"],
                status=ResponseStatus.IN_PROGRESS,
                answers=partial,
                current_step=INTAKE_STEP_IDS[done],
                started_at=started,
                updated_at=min(started + timedelta(minutes=rng.randint(3, 25)), ctx.now),
            )
        return
    encounters = patient.facts.get("scheduling.encounters") or []
    admitted = patient.admitted_at
    at_clinic = rng.random() < 0.15
    if at_clinic:  # filled in on a tablet at the front desk with staff help
        started = admitted - timedelta(minutes=rng.randint(20, 40))
    else:
        started = between(
            rng, max(patient.first_contact_at, admitted - timedelta(days=6)), admitted
        )
    completed = min(started + timedelta(minutes=rng.randint(12, 45)), admitted, ctx.now)
    staff = ctx.team_member(patient, StaffRole.FRONT_DESK, rng) if at_clinic else None
    sink.add(
        FormResponse,
        **base,
        effective_at=completed,
        definition_id=definitions["intake"],
        status=ResponseStatus.COMPLETED,
        answers=answers,
        started_at=started,
        completed_at=completed,
        submitted_by=SubmitterKind.STAFF if at_clinic else SubmitterKind.PATIENT,
        submitted_by_staff_id=staff,
        author_id=staff,
        encounter_id=encounters[0][0] if encounters else None,
        scores=score_answers(answers),
        changes=_changes(answers, rng),
    )
    if patient.discharged_at and rng.random() < 0.5:
        sent = patient.discharged_at + timedelta(days=rng.randint(1, 10))
        if sent < ctx.now:
            survey = satisfaction_answers(rng)
            sink.add(
                FormResponse,
                **base,
                effective_at=sent,
                definition_id=definitions["satisfaction"],
                status=ResponseStatus.COMPLETED,
                answers=survey,
                started_at=sent,
                completed_at=min(sent + timedelta(minutes=rng.randint(2, 6)), ctx.now),
            )
    elif patient.stage is JourneyStage.IN_TREATMENT and encounters and rng.random() < 0.4:
        when = encounters[-1][1] - timedelta(minutes=rng.randint(10, 90))
        check_in = _instrument(rng, PHQ9_ITEMS, "phq9", reason[2], improved=True)
        sink.add(
            FormResponse,
            **base,
            effective_at=when,
            definition_id=definitions["phq9"],
            status=ResponseStatus.COMPLETED,
            answers=check_in,
            started_at=when - timedelta(minutes=4),
            completed_at=when,
            encounter_id=encounters[-1][0],
            scores=score_answers(check_in),
        )


def intake_answers(patient: PatientSeed, rng: random.Random, concern: str) -> dict[str, Any]:
    """A full, valid set of intake answers that agrees with what other generators wrote."""
    coverage: dict[str, Any] = patient.facts.get("billing.coverage_summary") or {}
    city, postal = rng.choice(CITIES)
    referral = rng.choices(REFERRALS, weights=REFERRAL_WEIGHTS)[0]
    meds = MEDICATIONS.get(concern) if rng.random() < 0.6 else None
    allergy = rng.random() < 0.12
    answers: dict[str, Any] = {
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "birth_date": patient.birth_date.isoformat(),
        "sex": patient.sex,
        "language": "es" if patient.facts.get("hispanic") and rng.random() < 0.4 else "en",
        "interpreter_needed": False,
        "phone": f"+1617555{rng.randrange(10000):04d}",
        "phone_type": "mobile",
        "ok_to_text": rng.random() < 0.8,
        "ok_to_voicemail": rng.random() < 0.6,
        "email": f"{patient.given_name}.{patient.family_name}@example.com".lower().replace(" ", ""),
        "address_line1": f"{rng.randint(1, 400)} {rng.choice(STREETS)}",
        "city": city,
        "state": "MA",
        "postal_code": postal,
        "ec_name": f"{rng.choice(CONTACT_NAMES)} {patient.family_name}",
        "ec_relationship": rng.choice(("spouse", "parent", "sibling", "partner", "friend")),
        "ec_phone": f"+1508555{rng.randrange(10000):04d}",
        "ec_may_share": rng.random() < 0.7,
        "has_insurance": bool(coverage) and coverage.get("payer") != "self_pay",
        "concerns": [concern, "anxiety"] if concern == "depression" else [concern],
        "reason_text": STORIES.get(concern, STORIES["anxiety"]),
        "symptom_duration": rng.choice(("weeks", "months", "year", "years")),
        "prior_treatment": rng.random() < 0.55,
        "goals": "Feel like myself again and get back to work.",
        "referral_source": referral,
        "medical_conditions": [rng.choice(MEDICAL_HISTORY)],
        "prior_psych_hospitalization": rng.random() < 0.15,
        "takes_medications": meds is not None,
        "has_allergies": allergy,
        "housing": rng.choices(("steady", "worried", "unstable"), weights=(80, 14, 6))[0],
        "food_worry": rng.choices(("never", "sometimes", "often"), weights=(78, 17, 5))[0],
        "food_last": rng.choices(("never", "sometimes", "often"), weights=(82, 14, 4))[0],
        "transportation": "yes" if rng.random() < 0.12 else "no",
        "safety": "yes" if rng.random() < 0.93 else rng.choice(("no", "unsure")),
    }
    if answers["has_insurance"]:
        payer = coverage.get("payer")
        answers["insurance_payer"] = payer if payer in _PAYER_CODES else coverage["payer_name"]
        answers["insurance_member_id"] = coverage.get("member_id") or "unknown"
        if coverage.get("group_id"):
            answers["insurance_group_id"] = coverage["group_id"]
        relationship = coverage.get("subscriber_relationship", "self")
        answers["subscriber_relationship"] = relationship if relationship in _RELS else "other"
        if relationship != "self":
            answers["subscriber_name"] = coverage.get("subscriber_name")
            answers["subscriber_birth_date"] = coverage.get("subscriber_birth_date")
    if answers["prior_treatment"]:
        answers["prior_treatment_details"] = "Outpatient therapy a few years ago; it helped."
    if referral in REFERRERS:
        answers["referrer_name"] = REFERRERS[referral]
        answers["may_contact_referrer"] = rng.random() < 0.8
    if meds:
        answers["medications"] = meds
    if allergy:
        answers["allergies"] = rng.choice(("Penicillin (hives)", "Sulfa drugs (rash)", "Peanuts"))
    answers |= _instrument(rng, PHQ9_ITEMS, "phq9", concern)
    answers |= _instrument(rng, GAD7_ITEMS, "gad7", concern)
    return answers


_PAYER_CODES = {"aetna", "bcbs", "cigna", "uhc", "medicaid", "medicare"}
_RELS = {"self", "spouse", "child"}
_STEP_OF = {
    q["linkId"]: n
    for n, step in enumerate(form_by_key("intake")["schema"]["steps"])
    for q in step["questions"]
}


def _step_of(link_id: str) -> int:
    return _STEP_OF.get(link_id, len(INTAKE_STEP_IDS))


def _instrument(
    rng: random.Random,
    items: tuple[tuple[str, str, str], ...],
    name: str,
    concern: str,
    *,
    improved: bool = False,
) -> dict[str, Any]:
    """Item answers whose total fits the patient's concern (lower later in treatment)."""
    high = concern in HIGH_SCORE[name]
    weights = (15, 35, 30, 20) if high else (40, 35, 17, 8)
    if improved:
        weights = (45, 35, 15, 5)
    answers: dict[str, Any] = {}
    for link_id, _, _ in items:
        value = rng.choices("0123", weights=weights)[0]
        if link_id == "phq9_9":  # most people answer "not at all" to the suicidality item
            value = "0" if rng.random() < 0.85 else rng.choice("12")
        answers[link_id] = value
    if any(v != "0" for v in answers.values()):
        answers[f"{name}_difficulty"] = rng.choice("0112")
    return answers


def satisfaction_answers(rng: random.Random) -> dict[str, Any]:
    nps = rng.choices(range(11), weights=(1, 1, 1, 2, 2, 4, 5, 9, 18, 22, 35))[0]
    answers: dict[str, Any] = {
        "nps": nps,
        "csat": max(1, min(5, round(nps / 2.2) + rng.choice((0, 0, 1)))),
        "felt_respected": "always" if nps >= 8 else rng.choice(("usually", "sometimes")),
    }
    if rng.random() < 0.4:
        answers["comments"] = rng.choice(
            (
                "My therapist really listened. Thank you.",
                "Hard to get evening appointments.",
                "Front desk was kind every single time.",
                "The group sessions changed my life.",
                "Billing was confusing; I got two statements for the same visit.",
            )
        )
        answers["may_contact"] = rng.random() < 0.5
    return answers


def _changes(answers: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """What the patient reported that the record does not have yet, for staff to apply."""
    if rng.random() > 0.2:
        return None
    field = rng.choice(("phone", "address_line1", "email"))
    target = {"phone": "contact_point", "email": "contact_point", "address_line1": "address"}
    return {field: {"target": target[field], "previous": None, "submitted": answers[field]}}
