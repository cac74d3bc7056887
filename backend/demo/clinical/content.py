"""What demo charts are made of: comorbidities, allergens, pharmacies, labs. Data only;
the codes themselves live in :mod:`backend.clinical.codes`."""

from __future__ import annotations

from backend.clinical.models import (
    AllergyCategory,
    AllergyCriticality,
    AllergyType,
    Severity,
)
from backend.common.types import CodeSystem

DOMAIN = "clinical"
# Comorbidities and their weights; the principal diagnosis comes from journey.concern.
SECONDARY = (
    ("mdd", 14), ("gad", 14), ("ptsd", 6), ("aud", 5), ("insomnia", 12), ("nicotine", 12),
    ("htn", 12), ("t2dm", 7), ("hld", 9), ("adhd", 4),
)  # fmt: skip
ALLERGENS = (
    # (system, code, display, type, category, criticality, reaction, SNOMED reaction, severity)
    (CodeSystem.RXNORM, "7980", "penicillin G", AllergyType.ALLERGY, AllergyCategory.MEDICATION,
     AllergyCriticality.HIGH, "Hives", "126485001", Severity.MODERATE),
    (CodeSystem.RXNORM, "10180", "sulfamethoxazole", AllergyType.ALLERGY,
     AllergyCategory.MEDICATION, AllergyCriticality.LOW, "Rash", "271807003", Severity.MILD),
    (CodeSystem.RXNORM, "2670", "codeine", AllergyType.INTOLERANCE, AllergyCategory.MEDICATION,
     AllergyCriticality.LOW, "Nausea and vomiting", "422587007", Severity.MILD),
    (CodeSystem.RXNORM, "723", "amoxicillin", AllergyType.ALLERGY, AllergyCategory.MEDICATION,
     AllergyCriticality.HIGH, "Hives", "126485001", Severity.MODERATE),
    (CodeSystem.SNOMED, "256349002", "Peanut - dietary (substance)", AllergyType.ALLERGY,
     AllergyCategory.FOOD, AllergyCriticality.HIGH, "Anaphylaxis", "39579001", Severity.SEVERE),
    (CodeSystem.SNOMED, "111088007", "Latex (substance)", AllergyType.ALLERGY,
     AllergyCategory.ENVIRONMENT, AllergyCriticality.LOW, "Rash", "271807003", Severity.MILD),
    (CodeSystem.SNOMED, "288328004", "Bee venom (substance)", AllergyType.ALLERGY,
     AllergyCategory.ENVIRONMENT, AllergyCriticality.HIGH, "Anaphylaxis", "39579001",
     Severity.SEVERE),
)  # fmt: skip
REACTION_DISPLAY = {
    "126485001": "Urticaria",
    "271807003": "Eruption of skin",
    "422587007": "Nausea",
    "39579001": "Anaphylaxis",
}
PHARMACIES = (
    "CVS Pharmacy #2041, 587 Boylston St, Boston MA",
    "Walgreens #10872, 1 Brattle Sq, Cambridge MA",
    "Harborview Outpatient Pharmacy, Boston MA",
    "Stop & Shop Pharmacy #0412, Worcester MA",
)
LABS = ("Quest Diagnostics", "Harborview Lab Services", "LabCorp")
STOP_REASONS = ("Side effects: GI upset", "Side effects: sedation", "Course completed")
