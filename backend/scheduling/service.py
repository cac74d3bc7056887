"""Scheduling use cases for every transport (reads through the shared access path; the
listings are declared in :mod:`backend.record.categories`)."""

from __future__ import annotations

from backend.record.categories import APPOINTMENTS, ENCOUNTERS

list_appointments = APPOINTMENTS.list  # latest first; None when appointments are withheld
list_encounters = ENCOUNTERS.list  # latest first
