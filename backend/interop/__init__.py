"""Interoperability: FHIR R4 and HL7 v2 import and export, and what they keep raw."""
