"""Resource type -> mapper. A type with no mapper is kept raw (see fhir_map.KEPT_RAW)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backend.interop.fhir.mapping.base import MapContext, Row
from backend.interop.fhir.mapping.billing import map_claim, map_coverage, map_eob
from backend.interop.fhir.mapping.clinical import (
    map_allergy,
    map_condition,
    map_diagnostic_report,
    map_document_reference,
    map_imaging_study,
    map_immunization,
    map_medication,
    map_observation,
    map_procedure,
)
from backend.interop.fhir.mapping.engagement import (
    map_care_plan,
    map_communication,
    map_consent,
    map_goal,
    map_questionnaire_response,
)
from backend.interop.fhir.mapping.patients import (
    map_organization,
    map_patient,
    map_practitioner,
    map_related_person,
)
from backend.interop.fhir.mapping.scheduling import map_appointment, map_encounter

Mapper = Callable[[dict[str, Any], MapContext], list[Row]]

MAPPERS: dict[str, Mapper] = {
    "Patient": map_patient,
    "RelatedPerson": map_related_person,
    "Practitioner": map_practitioner,
    "Organization": map_organization,
    "Encounter": map_encounter,
    "Appointment": map_appointment,
    "Condition": map_condition,
    "Observation": map_observation,
    "DiagnosticReport": map_diagnostic_report,
    "Procedure": map_procedure,
    "Immunization": map_immunization,
    "MedicationRequest": map_medication,
    "MedicationStatement": map_medication,
    "AllergyIntolerance": map_allergy,
    "ImagingStudy": map_imaging_study,
    "DocumentReference": map_document_reference,
    "Coverage": map_coverage,
    "Claim": map_claim,
    "ExplanationOfBenefit": map_eob,
    "CarePlan": map_care_plan,
    "Goal": map_goal,
    "Consent": map_consent,
    "Communication": map_communication,
    "QuestionnaireResponse": map_questionnaire_response,
}
"""Mapped resource types. Others (CareTeam: it would grant access; Medication, Device,
Provenance ...) are stored whole in RawResource."""

OWN_ROW = frozenset(MAPPERS) - {"ExplanationOfBenefit"}
"""Types whose resource id is the source_id of a row of their own (an EOB updates its
Claim's invoice instead)."""
