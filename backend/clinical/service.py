"""Clinical use cases for every transport. Reads go through
:func:`backend.access.listing.list_patient_records` (scope, Part 2 and psychotherapy
rules, field masks) and are noted for the audit trail.

The listings are declared once in :mod:`backend.record.categories`; these names stay as
the typed entry points transports other than GraphQL call.
"""

from __future__ import annotations

from backend.record.categories import (
    ALLERGIES,
    ASSESSMENTS,
    CONDITIONS,
    DIAGNOSTIC_REPORTS,
    IMAGING_STUDIES,
    IMMUNIZATIONS,
    LABS,
    MEDICATIONS,
    NOTES,
    PROCEDURES,
    SOCIAL_FACTORS,
)

list_conditions = CONDITIONS.list  # newest first; None when diagnoses are withheld
list_medications = MEDICATIONS.list
list_allergies = ALLERGIES.list
list_labs = LABS.list  # laboratory observations only, newest first
# Psychotherapy notes only for their author and the treating therapist.
list_clinical_notes = NOTES.list
list_assessments = ASSESSMENTS.list
list_imaging_studies = IMAGING_STUDIES.list
list_procedures = PROCEDURES.list
list_immunizations = IMMUNIZATIONS.list
list_diagnostic_reports = DIAGNOSTIC_REPORTS.list
list_social_factors = SOCIAL_FACTORS.list
