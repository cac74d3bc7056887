"""What the demo journeys are made of: concerns, referral sources, referrers, dispositions,
aftercare medications and alumni events. Data only; :mod:`backend.demo.journey` draws
from it. Codes are real (SNOMED CT, RxNorm, HL7 terminology); names are fictional or
public institutions used as plausible referrers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.clinical import codes
from backend.common.types import LevelOfCare
from backend.journey.models import AlumniEventKind, DischargeDisposition, ReferralSourceKind

DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
EPISODE_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/episodeofcare-type"


@dataclass(frozen=True)
class Concern:
    """Why a demo patient reaches out, and so their main problem everywhere in the demo.

    The journey draws it once (``journey.concern``); scheduling, billing, forms, the chart
    and care plans all derive from it. ``snomed``/``display`` code the inquiry's reason as
    the caller put it; the diagnosis (ICD-10-CM, SNOMED, Part 2) is the clinic's problem
    list entry ``codes.CONDITIONS[condition]``, so there is one table of diagnosis codes.
    """

    key: str
    snomed: str
    display: str
    condition: str  # key of backend.clinical.codes.CONDITIONS: the primary diagnosis
    intake: str  # the intake form's answer for it (backend.forms.definitions CONCERNS)
    program: str
    levels: tuple[LevelOfCare, ...]
    reasons: tuple[str, ...]
    presenting: tuple[tuple[str | None, str], ...]  # (SNOMED code or None, text)

    @property
    def diagnosis(self) -> codes.ConditionDef:
        return codes.CONDITIONS[self.condition]

    @property
    def sud(self) -> bool:
        """A substance-use disorder: the patient's records fall under 42 CFR Part 2."""
        return self.diagnosis.part2


_OP, _IOP, _PHP = (
    LevelOfCare.OUTPATIENT,
    LevelOfCare.INTENSIVE_OUTPATIENT,
    LevelOfCare.PARTIAL_HOSPITALIZATION,
)
CONCERNS: tuple[tuple[Concern, float], ...] = (
    (
        Concern(
            "depression",
            "35489007",
            "Depressive disorder",
            "mdd",
            "depression",
            "Adult Mental Health",
            (_OP, _IOP, _PHP),
            (
                "Low mood for months, stopped going to work, sleeping most of the day.",
                "Feels hopeless since a divorce; GP suggested a therapy program.",
                "Depression came back after stopping medication; wants more support.",
            ),
            ((None, "Depressed mood"), ("193462001", "Insomnia"), (None, "Loss of interest")),
        ),
        0.24,
    ),
    (
        Concern(
            "anxiety",
            "21897009",
            "Generalized anxiety disorder",
            "gad",
            "anxiety",
            "Adult Mental Health",
            (_OP, _IOP),
            (
                "Constant worry and panic attacks at work; has had to leave meetings.",
                "Anxiety getting worse, can't drive on the highway anymore.",
            ),
            (("225624000", "Panic attack"), ("48694002", "Anxiety"), (None, "Poor sleep")),
        ),
        0.18,
    ),
    (
        Concern(
            "ptsd",
            "47505003",
            "Posttraumatic stress disorder",
            "ptsd",
            "trauma",
            "Trauma Recovery",
            (_OP, _IOP, _PHP),
            (
                "Nightmares and flashbacks since a car accident last year.",
                "Veteran, startles easily, avoiding family events; VA wait list is long.",
            ),
            ((None, "Nightmares"), (None, "Flashbacks"), (None, "Hypervigilance")),
        ),
        0.10,
    ),
    (
        Concern(
            "alcohol",
            "7200002",
            "Alcoholism",
            "aud",
            "alcohol",
            "Substance Use Recovery",
            (LevelOfCare.WITHDRAWAL_MANAGEMENT, _IOP, _PHP, LevelOfCare.RESIDENTIAL),
            (
                "Drinking a bottle of wine a night, shakes in the morning; wants to stop.",
                "Second DUI, court recommends treatment.",
                "Partner calling: drinking has escalated since job loss.",
            ),
            ((None, "Daily alcohol use"), (None, "Morning tremor"), (None, "Blackouts")),
        ),
        0.18,
    ),
    (
        Concern(
            "opioid",
            "75544000",
            "Opioid dependence",
            "oud",
            "opioids",
            "Substance Use Recovery",
            (LevelOfCare.WITHDRAWAL_MANAGEMENT, _IOP, LevelOfCare.RESIDENTIAL),
            (
                "Using fentanyl daily, had an overdose reversed with naloxone last month.",
                "Started on prescribed oxycodone after surgery, now buying pills.",
                "Interested in buprenorphine; wants an intake this week.",
            ),
            ((None, "Daily opioid use"), (None, "Withdrawal symptoms"), (None, "Overdose")),
        ),
        0.14,
    ),
    (
        Concern(
            "adhd",
            "406506008",
            "Attention deficit hyperactivity disorder",
            "adhd",
            "attention",
            "Adult Mental Health",
            (_OP,),
            ("Never diagnosed as a child; falling behind at college, can't focus.",),
            ((None, "Difficulty concentrating"), (None, "Restlessness")),
        ),
        0.08,
    ),
    (
        Concern(
            "bipolar",
            "83225003",
            "Bipolar II disorder",
            "bipolar",
            "mood_swings",
            "Adult Mental Health",
            (_IOP, _PHP),
            ("Cycles of very low mood and days without sleep; new psychiatrist needed.",),
            ((None, "Mood swings"), ("193462001", "Insomnia")),
        ),
        0.08,
    ),
)
CONCERN_BY_KEY = {concern.key: concern for concern, _ in CONCERNS}


def draw_concern(rng: random.Random) -> Concern:
    """A concern drawn with the clinic's case mix (the journey's one draw per patient)."""
    return rng.choices([c for c, _ in CONCERNS], weights=[w for _, w in CONCERNS])[0]


def concern_of(facts: Mapping[str, Any], rng: random.Random) -> Concern:
    """The patient's concern as the journey decided it; drawn from ``rng`` if it did not
    run (a generator exercised on its own)."""
    concern = CONCERN_BY_KEY.get(facts.get("journey.concern") or "")
    return concern if concern is not None else draw_concern(rng)


# (kind, name, index into REFERRERS or None, contact person, campaign code, weight)
SOURCES: tuple[tuple[ReferralSourceKind, str, int | None, str | None, str | None, float], ...] = (
    (ReferralSourceKind.WEB_SEARCH, "Google search", None, None, None, 0.16),
    (ReferralSourceKind.WEB_SEARCH, "Bing search", None, None, None, 0.02),
    (ReferralSourceKind.CAMPAIGN, "Google Ads: IOP near me", None, None, "GADS-IOP-24", 0.06),
    (ReferralSourceKind.CAMPAIGN, "Spring recovery radio spot", None, None, "RADIO-SPR", 0.02),
    (ReferralSourceKind.SOCIAL_MEDIA, "Instagram", None, None, "IG-ORGANIC", 0.04),
    (ReferralSourceKind.SOCIAL_MEDIA, "Facebook community group", None, None, None, 0.03),
    (ReferralSourceKind.SELF, "Self-referral", None, None, None, 0.12),
    (ReferralSourceKind.ALUMNI, "Alumni word of mouth", None, None, None, 0.05),
    (ReferralSourceKind.PERSON, "Family member", None, None, None, 0.07),
    (ReferralSourceKind.PERSON, "Dr. Ellen Marsh, PCP", None, "Dr. Ellen Marsh", None, 0.04),
    (ReferralSourceKind.HEALTHCARE_PROVIDER, "Mass General ED", 0, "ED social work", None, 0.07),
    (ReferralSourceKind.HEALTHCARE_PROVIDER, "Boston Medical Center", 1, "Case mgmt", None, 0.05),
    (ReferralSourceKind.HEALTHCARE_PROVIDER, "Cambridge Health Alliance", 2, None, None, 0.03),
    (ReferralSourceKind.COURT, "Suffolk County Drug Court", 3, "Probation officer", None, 0.03),
    (ReferralSourceKind.EMPLOYER_EAP, "ComPsych EAP", 4, "EAP counselor", None, 0.03),
    (ReferralSourceKind.INSURER, "Blue Cross MA behavioral health", 5, "Care manager", None, 0.04),
    (ReferralSourceKind.SCHOOL, "Northeastern University counseling", 6, None, None, 0.02),
    (ReferralSourceKind.HOTLINE, "988 Suicide & Crisis Lifeline", None, None, None, 0.02),
    (ReferralSourceKind.HOTLINE, "SAMHSA National Helpline", None, None, None, 0.01),
    (ReferralSourceKind.OTHER, "Community health fair", None, None, "FAIR-24", 0.01),
)
REFERRERS = (
    ("Massachusetts General Hospital", "+16175552000"),
    ("Boston Medical Center", "+16175553000"),
    ("Cambridge Health Alliance", "+16175554000"),
    ("Suffolk County Drug Court", "+16175555000"),
    ("ComPsych Employee Assistance", "+18005556000"),
    ("Blue Cross Blue Shield of Massachusetts", "+18005557000"),
    ("Northeastern University Counseling", "+16175558000"),
)
# Where patients are referred out to: (name, service, SNOMED service code or None).
REFER_OUT = (
    ("McLean Hospital", "Inpatient psychiatry", "183524004", "Referral to psychiatry service"),
    ("Gosnold Treatment Center", "Residential substance use treatment", None, None),
    ("AdCare Hospital", "Medically managed withdrawal", None, None),
    (
        "Riverside Community Care",
        "Outpatient therapy",
        "183583007",
        "Refer to mental health worker",
    ),
    ("Boston Vet Center", "Veteran PTSD counseling", "3457005", "Patient referral"),
)
INSURERS = (
    "Blue Cross Blue Shield of MA",
    "Harvard Pilgrim",
    "Tufts Health Plan",
    "MassHealth",
    "Aetna",
    "Medicare",
)
CALLERS = ("mother", "father", "spouse", "partner", "sibling", "adult child")
PROGRAMS = (
    ("Harborview Alumni Network", "Peer meetings, mentoring and events for graduates."),
    ("Steps Forward Recovery Alumni", "Sober community for graduates of recovery programs."),
)
EVENTS = (
    (AlumniEventKind.MEETING, "Monthly alumni meeting", 90),
    (AlumniEventKind.WORKSHOP, "Relapse prevention workshop", 120),
    (AlumniEventKind.SOCIAL, "Summer cookout", 180),
    (AlumniEventKind.VOLUNTEER, "Food bank volunteering", 180),
    (AlumniEventKind.WEBINAR, "Sleep and mood webinar", 60),
    (AlumniEventKind.MEETING, "Family night", 90),
    (AlumniEventKind.WORKSHOP, "Mindfulness skills refresher", 90),
    (AlumniEventKind.SOCIAL, "Recovery month walk", 150),
    (AlumniEventKind.WEBINAR, "Navigating the holidays", 60),
    (AlumniEventKind.MEETING, "Alumni speaker panel", 90),
)
# Days from "now" of each program's events: eight behind, two ahead.
EVENT_OFFSETS = (-700, -610, -520, -430, -340, -250, -160, -70, 14, 45)
CHECK_IN_NOTES = (
    "Doing well, attending weekly meetings, back at work full time.",
    "Stress at home, sleep poor; reviewed coping plan and gave crisis line.",
    "Went to the alumni cookout, reconnected with peers from group.",
    "Struggled over the holidays; scheduled a session with former therapist.",
    "Stable, taking medications as prescribed, exercising.",
)


# (disposition, FHIR discharge-disposition code, display, weight)
DISPOSITIONS = (
    (DischargeDisposition.COMPLETED_PROGRAM, "home", "Home", 0.62),
    (DischargeDisposition.STEP_DOWN, "home", "Home", 0.14),
    (DischargeDisposition.TRANSFERRED, "other-hcf", "Other healthcare facility", 0.06),
    (DischargeDisposition.STEP_UP, "psy", "Psychiatric hospital", 0.03),
    (DischargeDisposition.LEFT_AGAINST_ADVICE, "aadvice", "Left against advice", 0.10),
    (DischargeDisposition.ADMINISTRATIVE, "oth", "Other", 0.03),
    (DischargeDisposition.LOST_TO_CONTACT, "oth", "Other", 0.02),
)
MEDS_SUD = (
    ("buprenorphine 8 MG / naloxone 2 MG Sublingual Film", "1010604", "1 film daily"),
    ("naltrexone hydrochloride 50 MG Oral Tablet", "1483744", "1 tablet daily"),
    ("acamprosate calcium 333 MG Delayed Release Oral Tablet", "835726", "2 tablets 3x daily"),
)
MEDS_MH = (
    ("sertraline 50 MG Oral Tablet", "312941", "1 tablet daily"),
    ("escitalopram 10 MG Oral Tablet", "349332", "1 tablet daily"),
    (
        "24 HR bupropion hydrochloride 150 MG Extended Release Oral Tablet",
        "993541",
        "1 tablet every morning",
    ),
)
