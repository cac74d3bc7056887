"""Columns every patient record gets the same way: patient, encounter, sensitivity."""

from __future__ import annotations

from typing import Any

from backend.common.types import Sensitivity
from backend.interop.fhir.mapping.base import MapContext

# meta.security codes (v3 ActCode / Confidentiality) -> our sensitivity bits.
SECURITY_LABELS = {
    "42CFRPart2": Sensitivity.PART2,
    "SUD": Sensitivity.PART2,
    "ETH": Sensitivity.PART2,
    "PSY": Sensitivity.PSYCHOTHERAPY,
    "PSYTHPN": Sensitivity.PSYCHOTHERAPY,
    "R": Sensitivity.RESTRICTED,
    "V": Sensitivity.RESTRICTED,
}


def sensitivity_of(res: dict[str, Any]) -> Sensitivity:
    found = Sensitivity.NONE
    for label in (res.get("meta") or {}).get("security", []) or []:
        found |= SECURITY_LABELS.get(str(label.get("code")), Sensitivity.NONE)
    return found


def patient_columns(res: dict[str, Any], ctx: MapContext, resource_type: str) -> dict[str, Any]:
    """patient_id (required: raises Unresolved), encounter_id when the model has one,
    sensitivity from meta.security."""
    subject = res.get("subject") if "subject" in res else res.get("patient")
    field = "subject" if "subject" in res else "patient"
    values: dict[str, Any] = {
        "patient_id": ctx.require(subject, f"{resource_type}.{field}", "Patient"),
        "sensitivity": sensitivity_of(res),
    }
    if resource_type not in ENCOUNTERLESS:
        encounter = res.get("encounter")
        if isinstance(encounter, list):  # Claim.item.encounter is a list
            encounter = encounter[0] if encounter else None
        if encounter is None and isinstance(res.get("context"), dict):
            found = res["context"].get("encounter") or []
            encounter = found[0] if found else None
        values["encounter_id"] = ctx.optional(encounter, f"{resource_type}.encounter", "Encounter")
    return values


ENCOUNTERLESS = frozenset(
    {
        "Encounter",
        "Appointment",
        "Coverage",
        "Claim",
        "ExplanationOfBenefit",
        "CarePlan",
        "Goal",
        "Consent",
        "Communication",
        "RelatedPerson",
    }
)
"""Resource types whose models have no ``encounter_id`` column."""
