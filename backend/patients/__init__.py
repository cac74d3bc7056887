"""Patients: demographics, contact points, addresses, identifiers, emergency contacts."""
