"""The built-in forms, as data, and the schema format every form uses.

A schema is ``{"steps": [step, ...]}``; the portal shows one step per page, in order.

* step: ``{"id", "title", "description"?, "questions": [question, ...]}``
* question: ``linkId`` (unique in the form, the key of the answer), ``text``, ``type``
  (string, text, integer, decimal, boolean, date, choice, open_choice, email, phone),
  ``required``, ``repeats`` (choice only: the answer is a list of codes), ``options``
  (``[{"code", "display", "score"?}]``), ``min``/``max`` (numbers, or ISO dates),
  ``maxLength``, ``enableWhen`` (``[{"question": linkId, "operator": "=" | "!=" | ">" |
  ">=" | "<" | "<=" | "exists", "answer": value}]``) with ``enableBehavior`` ``all``/``any``,
  ``code`` (a LOINC coding, for FHIR export and Observation mapping) and ``help``.

This mirrors FHIR Questionnaire.item closely (step = a group item, options =
answerOption) so export is a mechanical mapping. Standard instruments (PHQ-9, GAD-7,
the AHC social-needs items) keep their published wording word for word: changing it
invalidates the instrument.
"""

from __future__ import annotations

from typing import Any

from backend.forms.instruments import (
    GAD7_ITEMS,
    GAD7_STEP,
    PHQ9_ITEMS,
    PHQ9_STEP,
    score_answers,
)
from backend.forms.instruments import loinc as _loinc
from backend.forms.instruments import options as _opts
from backend.forms.instruments import question as _q
from backend.forms.instruments import when as _when
from backend.forms.validation import is_enabled, iter_questions, validate_answers

__all__ = [
    "BUILT_IN_FORMS",
    "GAD7_ITEMS",
    "PHQ9_ITEMS",
    "form_by_key",
    "is_enabled",
    "iter_questions",
    "score_answers",
    "validate_answers",
]

FORM_URL = "https://harborview.example.org/fhir/Questionnaire/"


# --- Intake -------------------------------------------------------------------------------

SEX = _opts(("female", "Female"), ("male", "Male"), ("other", "Other"), ("unknown", "Unknown"))
YES_NO_UNSURE = _opts(("yes", "Yes"), ("no", "No"), ("unsure", "Unsure"))
TRUE_OFTEN = _opts(
    ("often", "Often true"), ("sometimes", "Sometimes true"), ("never", "Never true")
)
RELATIONSHIPS = _opts(
    ("spouse", "Spouse"),
    ("partner", "Partner"),
    ("parent", "Parent"),
    ("sibling", "Sibling"),
    ("adult_child", "Adult child"),
    ("friend", "Friend"),
    ("other", "Other"),
)
PAYERS = _opts(
    ("aetna", "Aetna"),
    ("bcbs", "Blue Cross Blue Shield"),
    ("cigna", "Cigna"),
    ("uhc", "UnitedHealthcare"),
    ("medicaid", "Medicaid"),
    ("medicare", "Medicare"),
)
CONCERNS = _opts(
    ("depression", "Depression or low mood"),
    ("anxiety", "Anxiety, worry or panic"),
    ("trauma", "Trauma or PTSD"),
    ("alcohol", "Alcohol use"),
    ("opioids", "Opioid use (pain pills, heroin, fentanyl)"),
    ("other_substances", "Other substance use"),
    ("attention", "Attention or focus (ADHD)"),
    ("mood_swings", "Mood swings or bipolar disorder"),
    ("eating", "Eating concerns"),
    ("grief", "Grief or loss"),
    ("relationships", "Relationship or family problems"),
    ("other", "Something else"),
)
REFERRALS = _opts(
    ("self", "Myself"),
    ("family", "Family or friend"),
    ("pcp", "Primary care provider"),
    ("hospital", "Hospital or emergency department"),
    ("therapist", "Another therapist or psychiatrist"),
    ("court", "Court or probation"),
    ("eap", "Employee assistance program"),
    ("school", "School or college"),
    ("insurer", "My insurance company"),
    ("online", "Internet search or social media"),
    ("alumni", "A Harborview alumnus"),
    ("other", "Other"),
)
MEDICAL = _opts(
    ("hypertension", "High blood pressure"),
    ("diabetes", "Diabetes"),
    ("asthma", "Asthma or COPD"),
    ("heart", "Heart disease"),
    ("seizures", "Seizures"),
    ("hepatitis_c", "Hepatitis C"),
    ("hiv", "HIV"),
    ("chronic_pain", "Chronic pain"),
    ("thyroid", "Thyroid disease"),
    ("pregnant", "Currently pregnant"),
    ("none", "None of these"),
)
HOUSING_TEXT = "What is your living situation today?"
HOUSING = _opts(
    ("steady", "I have a steady place to live"),
    (
        "worried",
        "I have a place to live today, but I am worried about losing it in the future",
    ),
    (
        "unstable",
        "I do not have a steady place to live (I am temporarily staying with others, in a "
        "hotel, in a shelter, living outside on the street, on a beach, in a car, abandoned "
        "building, bus or train station, or in a park)",
    ),
)
FOOD_WORRY_TEXT = (
    "Within the past 12 months, you worried that your food would run out before you got "
    "money to buy more."
)
FOOD_LAST_TEXT = (
    "Within the past 12 months, the food you bought just didn't last and you didn't have "
    "money to get more."
)
TRANSPORT_TEXT = (
    "In the past 12 months, has lack of reliable transportation kept you from medical "
    "appointments, meetings, work or from getting things needed for daily living?"
)
SAFETY_TEXT = "Do you feel physically and emotionally safe where you currently live?"

INTAKE_STEPS: list[dict[str, Any]] = [
    {
        "id": "demographics",
        "title": "About you",
        "questions": [
            _q("given_name", "First name", required=True, maxLength=100),
            _q("family_name", "Last name", required=True, maxLength=100),
            _q("preferred_name", "Name you would like us to use", maxLength=100),
            _q("birth_date", "Date of birth", "date", required=True, min="1900-01-01"),
            _q("sex", "Sex assigned for insurance and records", "choice", required=True,
               options=SEX),
            _q("gender_identity", "Gender identity", "open_choice", maxLength=64,
               options=_opts(("woman", "Woman"), ("man", "Man"), ("nonbinary", "Non-binary"),
                             ("transgender", "Transgender"), ("decline", "Prefer not to say"))),
            _q("pronouns", "Pronouns", "open_choice", maxLength=32,
               options=_opts(("she/her", "she/her"), ("he/him", "he/him"),
                             ("they/them", "they/them"))),
            _q("language", "Preferred language", "open_choice", required=True, maxLength=32,
               options=_opts(("en", "English"), ("es", "Spanish"), ("pt", "Portuguese"),
                             ("ht", "Haitian Creole"), ("zh", "Chinese"), ("vi", "Vietnamese"))),
            _q("interpreter_needed", "Would you like an interpreter?", "boolean"),
            _q("marital_status", "Marital status", "choice",
               options=_opts(("single", "Single"), ("married", "Married"),
                             ("partnered", "Domestic partnership"), ("divorced", "Divorced"),
                             ("separated", "Separated"), ("widowed", "Widowed"))),
        ],
    },
    {
        "id": "contact",
        "title": "How to reach you",
        "questions": [
            _q("phone", "Phone number", "phone", required=True, maxLength=32),
            _q("phone_type", "Type of phone", "choice",
               options=_opts(("mobile", "Mobile"), ("home", "Home"), ("work", "Work"))),
            _q("ok_to_text", "May we send appointment reminders by text message?", "boolean"),
            _q("ok_to_voicemail", "May we leave a voicemail that names our clinic?", "boolean"),
            _q("email", "E-mail address", "email", maxLength=255),
            _q("address_line1", "Street address", required=True, maxLength=200),
            _q("address_line2", "Apartment, suite, unit", maxLength=200),
            _q("city", "City", required=True, maxLength=100),
            _q("state", "State (2 letters)", required=True, maxLength=2),
            _q("postal_code", "ZIP code", required=True, maxLength=10),
        ],
    },
    {
        "id": "emergency_contact",
        "title": "Emergency contact",
        "questions": [
            _q("ec_name", "Name", required=True, maxLength=200),
            _q("ec_relationship", "Relationship to you", "open_choice", required=True,
               maxLength=64, options=RELATIONSHIPS),
            _q("ec_phone", "Phone number", "phone", required=True, maxLength=32),
            _q("ec_may_share", "May we tell this person that you are in care with us?",
               "boolean", required=True),
        ],
    },
    {
        "id": "insurance",
        "title": "Insurance",
        "questions": [
            _q("has_insurance", "Do you have health insurance?", "boolean", required=True),
            _q("insurance_payer", "Insurance company", "open_choice", required=True,
               maxLength=200, options=PAYERS, enableWhen=_when("has_insurance", True)),
            _q("insurance_member_id", "Member ID", required=True, maxLength=64,
               enableWhen=_when("has_insurance", True)),
            _q("insurance_group_id", "Group number", maxLength=64,
               enableWhen=_when("has_insurance", True)),
            _q("subscriber_relationship", "Whose plan is it?", "choice", required=True,
               options=_opts(("self", "My own"), ("spouse", "My spouse's or partner's"),
                             ("child", "My parent's"), ("other", "Someone else's")),
               enableWhen=_when("has_insurance", True)),
            _q("subscriber_name", "Policy holder's full name", required=True, maxLength=200,
               enableWhen=_when("subscriber_relationship", "self", "!=")),
            _q("subscriber_birth_date", "Policy holder's date of birth", "date",
               enableWhen=_when("subscriber_relationship", "self", "!=")),
        ],
    },
    {
        "id": "reason_for_care",
        "title": "What brings you to us",
        "questions": [
            _q("concerns", "What would you like help with? Choose all that apply.", "choice",
               required=True, repeats=True, options=CONCERNS),
            _q("reason_text", "In your own words, what is going on?", "text", required=True,
               maxLength=2000),
            _q("symptom_duration", "How long has this been going on?", "choice",
               options=_opts(("weeks", "A few weeks"), ("months", "A few months"),
                             ("year", "About a year"), ("years", "Several years"))),
            _q("prior_treatment", "Have you had mental health or substance use treatment "
               "before?", "boolean", required=True),
            _q("prior_treatment_details", "Where, when, and what helped?", "text",
               maxLength=2000, enableWhen=_when("prior_treatment", True)),
            _q("goals", "What would you like to be different after treatment?", "text",
               maxLength=2000),
        ],
    },
    {
        "id": "referral_source",
        "title": "How you found us",
        "questions": [
            _q("referral_source", "Who referred you to us?", "choice", required=True,
               options=REFERRALS),
            _q("referrer_name", "Name of the person or organization that referred you",
               maxLength=200, enableBehavior="any",
               enableWhen=[{"question": "referral_source", "operator": "=", "answer": code}
                           for code in ("pcp", "hospital", "therapist", "court", "eap",
                                        "school")]),
            _q("may_contact_referrer", "May we let them know you contacted us?", "boolean",
               enableWhen=_when("referrer_name", True, "exists")),
        ],
    },
    {
        "id": "medical_history",
        "title": "Medical history",
        "questions": [
            _q("medical_conditions", "Do you have any of these conditions?", "choice",
               repeats=True, options=MEDICAL),
            _q("medical_other", "Other medical conditions or surgeries", "text",
               maxLength=2000),
            _q("primary_care_provider", "Primary care provider's name", maxLength=200),
            _q("prior_psych_hospitalization", "Have you ever been hospitalized for mental "
               "health or substance use?", "boolean", required=True),
        ],
    },
    {
        "id": "current_medications",
        "title": "Current medications",
        "questions": [
            _q("takes_medications", "Do you take any prescription medications?", "boolean",
               required=True),
            _q("medications", "List each medication, dose and how often you take it", "text",
               required=True, maxLength=2000, enableWhen=_when("takes_medications", True)),
            _q("pharmacy", "Preferred pharmacy", maxLength=200),
        ],
    },
    {
        "id": "allergies",
        "title": "Allergies",
        "questions": [
            _q("has_allergies", "Do you have any allergies to medications, foods or other "
               "substances?", "boolean", required=True),
            _q("allergies", "What are you allergic to, and what happens?", "text",
               required=True, maxLength=1000, enableWhen=_when("has_allergies", True)),
        ],
    },
    {
        "id": "social_factors",
        "title": "Life circumstances",
        "description": "These questions help us connect you with support. They are optional.",
        "questions": [
            _q("housing", HOUSING_TEXT, "choice", options=HOUSING,
               code=_loinc("71802-3", "Housing status")),
            _q("food_worry", FOOD_WORRY_TEXT, "choice", options=TRUE_OFTEN,
               code=_loinc("88122-7", FOOD_WORRY_TEXT)),
            _q("food_last", FOOD_LAST_TEXT, "choice", options=TRUE_OFTEN,
               code=_loinc("88123-5", FOOD_LAST_TEXT)),
            _q("transportation", TRANSPORT_TEXT, "choice", options=YES_NO_UNSURE[:2],
               code=_loinc("93030-5", "Has lack of transportation kept you from medical "
                           "appointments, meetings, work, or from getting things needed "
                           "for daily living")),
            _q("safety", SAFETY_TEXT, "choice", options=YES_NO_UNSURE,
               code=_loinc("93026-3", SAFETY_TEXT)),
        ],
    },
    PHQ9_STEP,
    GAD7_STEP,
]  # fmt: skip

# --- Other built-in forms -------------------------------------------------------------

SATISFACTION_STEPS: list[dict[str, Any]] = [
    {
        "id": "experience",
        "title": "Your experience",
        "questions": [
            _q("nps", "How likely are you to recommend us to a friend or family member? "
               "(0 = not at all likely, 10 = extremely likely)", "integer", required=True,
               min=0, max=10),
            _q("csat", "Overall, how satisfied are you with the care you received? "
               "(1 = very dissatisfied, 5 = very satisfied)", "integer", required=True,
               min=1, max=5),
            _q("felt_respected", "Did staff treat you with courtesy and respect?", "choice",
               options=_opts(("always", "Always"), ("usually", "Usually"),
                             ("sometimes", "Sometimes"), ("never", "Never"))),
            _q("comments", "What could we do better? Anything else you want to tell us?",
               "text", maxLength=4000),
            _q("may_contact", "May we contact you about your comments?", "boolean"),
        ],
    },
]  # fmt: skip

CONSENT_STEPS: list[dict[str, Any]] = [
    {
        "id": "communication",
        "title": "How we may contact you",
        "questions": [
            _q("reminders_sms", "Appointment reminders by text message", "boolean",
               required=True),
            _q("reminders_email", "Appointment reminders by e-mail", "boolean", required=True),
            _q("portal_messages", "Secure messages through the patient portal", "boolean",
               required=True),
            _q("alumni_updates", "News and events from our alumni program", "boolean"),
            _q("surveys", "Short surveys about your care", "boolean"),
        ],
    },
    {
        "id": "sharing",
        "title": "Sharing your information",
        "description": "You may change or withdraw these choices at any time.",
        "questions": [
            _q("share_with_pcp", "May we share your treatment summary with your primary care "
               "provider?", "boolean", required=True),
            _q("share_sud_records", "May we share records of substance use treatment (protected "
               "by 42 CFR Part 2) with the providers on your care team?", "boolean"),
            _q("share_with_family", "May we discuss your care with your emergency contact?",
               "boolean", required=True),
            _q("research_contact", "May we contact you about research studies?", "boolean"),
        ],
    },
]  # fmt: skip

_PUBLISHED = "2024-01-15T00:00:00+00:00"

BUILT_IN_FORMS: tuple[dict[str, Any], ...] = (
    {
        "key": "intake",
        "form_version": 1,
        "title": "New patient intake",
        "description": "Everything we need before your first appointment; about 20 minutes.",
        "code": None,
        "schema": {"steps": INTAKE_STEPS},
    },
    {
        "key": "phq9",
        "form_version": 1,
        "title": "Patient Health Questionnaire (PHQ-9)",
        "description": "Depression screening and severity measure.",
        "code": _loinc("44249-1", "PHQ-9 quick depression assessment panel"),
        "schema": {"steps": [PHQ9_STEP]},
    },
    {
        "key": "gad7",
        "form_version": 1,
        "title": "Generalized Anxiety Disorder 7-item scale (GAD-7)",
        "description": "Anxiety screening and severity measure.",
        "code": _loinc("69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
        "schema": {"steps": [GAD7_STEP]},
    },
    {
        "key": "consent-preferences",
        "form_version": 1,
        "title": "Communication and sharing preferences",
        "description": "How we may contact you and with whom we may share your information.",
        "code": None,
        "schema": {"steps": CONSENT_STEPS},
    },
    {
        "key": "satisfaction",
        "form_version": 1,
        "title": "Patient satisfaction survey",
        "description": "Two minutes about your experience with us.",
        "code": None,
        "schema": {"steps": SATISFACTION_STEPS},
    },
)
"""Each entry's keys are FormDefinition columns (``code`` as a dict), plus the schema."""


def form_by_key(key: str) -> dict[str, Any]:
    """The built-in form with ``key`` (KeyError when there is none)."""
    for form in BUILT_IN_FORMS:
        if form["key"] == key:
            return form
    raise KeyError(key)
