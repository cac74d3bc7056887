"""Which model each FHIR R4 resource type is imported into, and which are kept raw.

The importer and ``Patient/$everything`` read this table; ``tests/test_fhir_coverage.py``
checks that every resource type in the Synthea sample bundles has an entry. A type may
feed more than one table: the model named here is the one the resource's own id lands in
(its ``source_id``); notes beside an entry name the other tables it fills.
"""

from __future__ import annotations

from backend.accounts.models import StaffUser
from backend.billing.models import Charge, Coverage, Invoice, Payment, PriorAuthorization
from backend.careplans.models import CarePlan, Goal, Task
from backend.clinical.models import (
    Allergy,
    ClinicalNote,
    Condition,
    DiagnosticReport,
    ImagingStudy,
    Immunization,
    Medication,
    Observation,
    Procedure,
)
from backend.db import Base
from backend.engagement.models import Communication, Consent
from backend.forms.models import FormDefinition, FormResponse
from backend.interop.models import RawResource
from backend.journey.models import Admission, Referral
from backend.organization.models import Location, Organization
from backend.patients.models import EmergencyContact, Patient
from backend.scheduling.models import Appointment, Encounter

FHIR_MODELS: dict[str, type[Base]] = {
    # Patient.telecom, .address and .identifier also fill ContactPoint, Address and
    # PatientIdentifier; .contact fills EmergencyContact.
    "Patient": Patient,
    "RelatedPerson": EmergencyContact,
    # Outside clinicians become login-less, inactive staff users with no roles.
    "Practitioner": StaffUser,
    "Organization": Organization,
    "Location": Location,
    "Encounter": Encounter,
    "Appointment": Appointment,
    "EpisodeOfCare": Admission,
    "ServiceRequest": Referral,
    "Condition": Condition,
    "Observation": Observation,  # SDOH and scored instruments may land in SocialFactor
    # / Assessment when their code says so.
    "DiagnosticReport": DiagnosticReport,
    "ImagingStudy": ImagingStudy,
    "Procedure": Procedure,
    "Immunization": Immunization,
    "MedicationRequest": Medication,
    "MedicationStatement": Medication,  # is_patient_reported = True
    "AllergyIntolerance": Allergy,
    "DocumentReference": ClinicalNote,
    "Questionnaire": FormDefinition,
    "QuestionnaireResponse": FormResponse,
    "CarePlan": CarePlan,
    "Goal": Goal,
    "Task": Task,
    "Consent": Consent,
    "Communication": Communication,
    "Coverage": Coverage,
    # Claim header -> Invoice (claim_detail), Claim.item[] -> Charge rows of that invoice.
    "Claim": Invoice,
    # EOB header -> the claim's Invoice (eob_detail), item adjudication -> Charge.adjudication,
    # payment -> a Payment row when an amount was paid.
    "ExplanationOfBenefit": Invoice,
    "ClaimResponse": PriorAuthorization,  # use = preauthorization; others are kept raw
    "ChargeItem": Charge,
    "Invoice": Invoice,
    "PaymentReconciliation": Payment,
    "PaymentNotice": Payment,
}
"""resourceType -> the model its resources are imported into."""

KEPT_RAW: frozenset[str] = frozenset(
    {
        # A per-patient team of outside clinicians: importing it as our CareTeam would grant
        # row access (care teams are the unit of scoping), so it stays raw.
        "CareTeam",
        "PractitionerRole",
        "Provenance",
        "Device",
        "Medication",  # a drug definition; MedicationRequest keeps the RxNorm code itself
        "MedicationAdministration",
        "MedicationDispense",
        "Media",
        "SupplyDelivery",
        "Specimen",
        "FamilyMemberHistory",
        "RiskAssessment",
        "Composition",
        "Basic",
    }
)
"""Known resource types stored whole in :class:`RawResource` (reason ``unmapped_type``).
Any type in neither table is kept raw too, with reason ``unknown_type``."""

RAW_MODEL = RawResource


def model_for(resource_type: str) -> type[Base]:
    """The model a resource of this type is stored in: its own, else :class:`RawResource`."""
    return FHIR_MODELS.get(resource_type, RawResource)


IMPORT_ORDER: tuple[str, ...] = (
    "Organization",
    "Location",
    "Practitioner",
    "Patient",
    "RelatedPerson",
    "Encounter",
    "Appointment",
    "EpisodeOfCare",
    "Condition",
    "Observation",
    "DiagnosticReport",
    "ImagingStudy",
    "Procedure",
    "Immunization",
    "Medication",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "DocumentReference",
    "Questionnaire",
    "QuestionnaireResponse",
    "CarePlan",
    "Goal",
    "Task",
    "Consent",
    "Communication",
    "Coverage",
    "Claim",
    "ExplanationOfBenefit",
)
"""Resource types in dependency order: what a reference points at comes first. Bulk
NDJSON (one type per file) is imported file by file in this order; a type not named here
comes after them all."""
