"""Codes the clinic uses every day, with their official displays.

One place for the behavioural-health problem list, formulary, labs, note types and SDOH
questions the demo writes and the staff UI offers as quick picks. Every code here is a
real ICD-10-CM, SNOMED CT, LOINC, RxNorm, CPT or CVX code.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.clinical.models import NoteKind, SocialDomain, SocialRisk
from backend.common.types import CodeSystem

# --- Problem list ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConditionDef:
    key: str
    icd10: str
    icd10_display: str
    snomed: str
    snomed_display: str
    part2: bool = False  # a substance-use disorder: 42 CFR Part 2 applies
    behavioural: bool = True


CONDITIONS: dict[str, ConditionDef] = {
    c.key: c
    for c in (
        ConditionDef(
            "mdd",
            "F32.1",
            "Major depressive disorder, single episode, moderate",
            "370143000",
            "Major depressive disorder",
        ),
        ConditionDef(
            "gad",
            "F41.1",
            "Generalized anxiety disorder",
            "21897009",
            "Generalized anxiety disorder",
        ),
        ConditionDef(
            "ptsd",
            "F43.10",
            "Post-traumatic stress disorder, unspecified",
            "47505003",
            "Posttraumatic stress disorder",
        ),
        ConditionDef(
            "aud",
            "F10.20",
            "Alcohol dependence, uncomplicated",
            "66590003",
            "Alcohol dependence",
            part2=True,
        ),
        ConditionDef(
            "oud",
            "F11.20",
            "Opioid dependence, uncomplicated",
            "75544000",
            "Opioid dependence",
            part2=True,
        ),
        ConditionDef(
            "adhd",
            "F90.0",
            "Attention-deficit hyperactivity disorder, predominantly inattentive type",
            "406506008",
            "Attention deficit hyperactivity disorder",
        ),
        ConditionDef(
            "bipolar",
            "F31.81",
            "Bipolar II disorder",
            "83225003",
            "Bipolar II disorder",
        ),
        ConditionDef("insomnia", "G47.00", "Insomnia, unspecified", "193462001", "Insomnia"),
        # Tobacco is outside Part 2's definition of a substance-use disorder.
        ConditionDef(
            "nicotine",
            "F17.210",
            "Nicotine dependence, cigarettes, uncomplicated",
            "56294008",
            "Nicotine dependence",
        ),
        ConditionDef(
            "t2dm",
            "E11.9",
            "Type 2 diabetes mellitus without complications",
            "44054006",
            "Diabetes mellitus type 2",
            behavioural=False,
        ),
        ConditionDef(
            "htn",
            "I10",
            "Essential (primary) hypertension",
            "38341003",
            "Hypertensive disorder, systemic arterial",
            behavioural=False,
        ),
        ConditionDef(
            "hld",
            "E78.5",
            "Hyperlipidemia, unspecified",
            "55822004",
            "Hyperlipidemia",
            behavioural=False,
        ),
    )
}
ANXIETY_KEYS = frozenset({"gad", "ptsd"})
SUD_KEYS = frozenset(k for k, c in CONDITIONS.items() if c.part2)

# --- Formulary ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrugDef:
    rxnorm: str
    display: str
    dose: Decimal
    unit: str  # UCUM
    sig: str
    route: str
    frequency: str
    per_day: int  # units taken a day, for quantity
    form: str  # what quantity counts: tablet, capsule, film
    days_supply: int = 30
    refills: tuple[int, int] = (2, 5)
    dea_schedule: str | None = None
    part2: bool = False


DRUGS: dict[str, DrugDef] = {
    "sertraline": DrugDef(
        "312941", "sertraline 50 MG Oral Tablet", Decimal(50), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet",
    ),
    "escitalopram": DrugDef(
        "349332", "escitalopram 10 MG Oral Tablet", Decimal(10), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet",
    ),
    "bupropion": DrugDef(
        "993541", "24 HR bupropion hydrochloride 150 MG Extended Release Oral Tablet",
        Decimal(150), "mg", "Take 1 tablet by mouth every morning", "oral", "once daily",
        1, "tablet",
    ),
    "prazosin": DrugDef(
        "312593", "prazosin 1 MG Oral Capsule", Decimal(1), "mg",
        "Take 1 capsule by mouth at bedtime for nightmares", "oral", "at bedtime", 1, "capsule",
    ),
    "naltrexone": DrugDef(
        "1483744", "naltrexone hydrochloride 50 MG Oral Tablet", Decimal(50), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet", part2=True,
    ),
    "buprenorphine_naloxone": DrugDef(
        "1010604", "buprenorphine 8 MG / naloxone 2 MG Sublingual Film", Decimal(8), "mg",
        "Dissolve 1 film under the tongue once daily", "sublingual", "once daily", 1, "film",
        days_supply=14, refills=(0, 1), dea_schedule="CIII", part2=True,
    ),
    "atomoxetine": DrugDef(
        "349594", "atomoxetine 40 MG Oral Capsule", Decimal(40), "mg",
        "Take 1 capsule by mouth once daily", "oral", "once daily", 1, "capsule",
    ),
    "lamotrigine": DrugDef(
        "198429", "lamotrigine 100 MG Oral Tablet", Decimal(100), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet",
    ),
    "trazodone": DrugDef(
        "856377", "trazodone hydrochloride 50 MG Oral Tablet", Decimal(50), "mg",
        "Take 1 tablet by mouth at bedtime as needed for sleep", "oral", "at bedtime", 1,
        "tablet",
    ),
    "lisinopril": DrugDef(
        "314076", "lisinopril 10 MG Oral Tablet", Decimal(10), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet", days_supply=90,
    ),
    "metformin": DrugDef(
        "861007", "metformin hydrochloride 500 MG Oral Tablet", Decimal(500), "mg",
        "Take 1 tablet by mouth twice daily with meals", "oral", "twice daily", 2, "tablet",
        days_supply=90,
    ),
    "atorvastatin": DrugDef(
        "617310", "atorvastatin 20 MG Oral Tablet", Decimal(20), "mg",
        "Take 1 tablet by mouth once daily", "oral", "once daily", 1, "tablet", days_supply=90,
    ),
}  # fmt: skip
# Condition -> drugs a prescriber would pick for it, first choice first.
TREATS: dict[str, tuple[str, ...]] = {
    "mdd": ("sertraline", "escitalopram", "bupropion"),
    "gad": ("escitalopram", "sertraline"),
    "ptsd": ("sertraline", "prazosin"),
    "aud": ("naltrexone",),
    "oud": ("buprenorphine_naloxone",),
    "adhd": ("atomoxetine", "bupropion"),
    "bipolar": ("lamotrigine",),
    "insomnia": ("trazodone",),
    "htn": ("lisinopril",),
    "t2dm": ("metformin",),
    "hld": ("atorvastatin",),
}

# --- Clinical note types (LOINC document ontology) ------------------------------------

NOTE_TYPES: dict[NoteKind, tuple[str, str]] = {
    NoteKind.PROGRESS: ("11506-3", "Progress note"),
    NoteKind.ASSESSMENT: ("51848-0", "Evaluation note"),
    NoteKind.PSYCHOTHERAPY: ("34786-4", "Mental health Note"),
    NoteKind.DISCHARGE_SUMMARY: ("18842-5", "Discharge summary"),
    NoteKind.INTAKE: ("28636-9", "Initial evaluation note"),
    NoteKind.GROUP: ("34787-2", "Mental health Group counseling note"),
    NoteKind.PHONE: ("34748-4", "Telephone encounter Note"),
}

# --- Labs -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnalyteDef:
    loinc: str
    display: str
    unit: str
    low: Decimal | None
    high: Decimal | None
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class PanelDef:
    key: str
    loinc: str
    display: str
    specimen: str
    analytes: tuple[AnalyteDef, ...]


D = Decimal
PANELS: dict[str, PanelDef] = {
    p.key: p
    for p in (
        PanelDef("cbc", "58410-2", "CBC panel - Blood by Automated count", "blood", (
            AnalyteDef("6690-2", "Leukocytes [#/volume] in Blood by Automated count",
                       "10*3/uL", D("4.5"), D("11.0"), 1),
            AnalyteDef("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL",
                       D("12.0"), D("17.5"), 1),
            AnalyteDef("777-3", "Platelets [#/volume] in Blood by Automated count",
                       "10*3/uL", D(150), D(400)),
        )),
        PanelDef("cmp", "24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma",
                 "serum", (
            AnalyteDef("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL",
                       D(70), D(99)),
            AnalyteDef("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL",
                       D("0.60"), D("1.30"), 2),
            AnalyteDef("1742-6",
                       "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                       "U/L", D(7), D(56)),
            AnalyteDef("1920-8",
                       "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                       "U/L", D(10), D(40)),
        )),
        PanelDef("a1c", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "blood", (
            AnalyteDef("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%",
                       D("4.0"), D("5.6"), 1),
        )),
        PanelDef("lipids", "57698-3", "Lipid panel with direct LDL - Serum or Plasma", "serum", (
            AnalyteDef("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL",
                       None, D(200)),
            AnalyteDef("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
                       "mg/dL", D(40), None),
            AnalyteDef("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL",
                       None, D(150)),
        )),
    )
}  # fmt: skip
UDS_PANEL = ("65750-2", "Drugs of abuse 5 panel - Urine by Screen method")
UDS_ANALYTES: dict[str, tuple[str, str]] = {
    "cannabinoids": ("18282-4", "Cannabinoids [Presence] in Urine by Screen method"),
    "cocaine": ("19359-9", "Cocaine [Presence] in Urine by Screen method"),
    "opiates": ("19295-5", "Opiates [Presence] in Urine by Screen method"),
    "fentanyl": ("59673-4", "fentaNYL [Presence] in Urine by Screen method"),
}
POSITIVE = (CodeSystem.LOINC, "LA6576-8", "Positive")
NEGATIVE = (CodeSystem.LOINC, "LA6577-6", "Negative")
YES = (CodeSystem.LOINC, "LA33-6", "Yes")
NO = (CodeSystem.LOINC, "LA32-8", "No")

# --- Vital signs ----------------------------------------------------------------------

BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_SYSTOLIC = ("8480-6", "Systolic blood pressure")
BP_DIASTOLIC = ("8462-4", "Diastolic blood pressure")
BODY_WEIGHT = ("29463-7", "Body weight")

# --- Social determinants (PRAPARE / AHC HRSN questions) -------------------------------

Answer = tuple[SocialRisk, str, tuple[str, str, str] | None]  # risk, text, LOINC answer
# domain -> (LOINC question, display, instrument, possible answers)
SDOH: dict[SocialDomain, tuple[str, str, str, tuple[Answer, ...]]] = {
    SocialDomain.HOUSING: ("71802-3", "Housing status", "PRAPARE", (
        (SocialRisk.NO_RISK, "I have housing", None),
        (SocialRisk.AT_RISK, "I have housing but am worried about losing it", None),
        (SocialRisk.HIGH_RISK, "I do not have housing (staying with others, shelter, outside)",
         None),
    )),
    SocialDomain.FOOD: (
        "88122-7",
        "Within the past 12 months we worried whether our food would run out before we got "
        "money to buy more",
        "AHC HRSN",
        (
            (SocialRisk.NO_RISK, "Never true", None),
            (SocialRisk.AT_RISK, "Sometimes true", None),
            (SocialRisk.HIGH_RISK, "Often true", None),
        ),
    ),
    SocialDomain.TRANSPORT: (
        "93030-5",
        "Has lack of transportation kept you from medical appointments, meetings, work, or "
        "from getting things needed for daily living",
        "PRAPARE",
        ((SocialRisk.NO_RISK, "No", NO), (SocialRisk.AT_RISK, "Yes", YES)),
    ),
    SocialDomain.EMPLOYMENT: ("67875-5", "Employment status - current", "PRAPARE", (
        (SocialRisk.NO_RISK, "Employed full time", None),
        (SocialRisk.NO_RISK, "Employed part time", None),
        (SocialRisk.AT_RISK, "Unemployed, seeking work", None),
        (SocialRisk.AT_RISK, "On short-term disability leave", None),
    )),
    SocialDomain.SUPPORT: (
        "93029-7",
        "How often do you see or talk to people that you care about and feel close to",
        "PRAPARE",
        (
            (SocialRisk.NO_RISK, "5 or more times a week", None),
            (SocialRisk.AT_RISK, "1 or 2 times a week", None),
            (SocialRisk.HIGH_RISK, "Less than once a week", None),
        ),
    ),
    SocialDomain.SAFETY: (
        "93026-3",
        "Do you feel physically and emotionally safe where you currently live",
        "PRAPARE",
        ((SocialRisk.NO_RISK, "Yes", YES), (SocialRisk.HIGH_RISK, "No", NO)),
    ),
    SocialDomain.FINANCES: (
        "76513-1",
        "How hard is it for you to pay for the very basics like food, housing, medical care, "
        "and heating",
        "AHC HRSN",
        (
            (SocialRisk.NO_RISK, "Not hard at all", None),
            (SocialRisk.AT_RISK, "Somewhat hard", None),
            (SocialRisk.HIGH_RISK, "Very hard", None),
        ),
    ),
    SocialDomain.UTILITIES: (
        "96779-4",
        "In the past 12 months has the electric, gas, oil, or water company threatened to "
        "shut off services in your home",
        "AHC HRSN",
        ((SocialRisk.NO_RISK, "No", NO), (SocialRisk.AT_RISK, "Yes", YES)),
    ),
}  # fmt: skip

# --- Imaging, procedures, immunizations -----------------------------------------------

# (CPT, CPT display, LOINC, LOINC display, DICOM modality, modality display,
#  SNOMED body site, body site display)
IMAGING = (
    ("70551", "MRI brain without contrast", "24590-2", "MR Brain", "MR", "Magnetic Resonance",
     "12738006", "Brain structure"),
    ("70450", "CT head without contrast", "24725-4", "CT Head", "CT", "Computed Tomography",
     "69536005", "Head structure"),
)  # fmt: skip
PROCEDURES = (
    ("90870", "Electroconvulsive therapy (includes necessary monitoring)"),
    ("90868", "Therapeutic repetitive transcranial magnetic stimulation, subsequent delivery"),
)
FLU_VACCINE = ("150", "influenza, injectable, quadrivalent, preservative free")
