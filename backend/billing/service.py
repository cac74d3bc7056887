"""Billing use cases for every transport (reads through the shared access path; the
listings are declared in :mod:`backend.record.categories`)."""

from __future__ import annotations

from backend.record.categories import CHARGES, COVERAGE, INVOICES, PAYMENTS, PRIOR_AUTHORIZATIONS

list_coverage = COVERAGE.list  # primary first; None when coverage is withheld
list_prior_authorizations = PRIOR_AUTHORIZATIONS.list
list_charges = CHARGES.list  # newest service date first
list_invoices = INVOICES.list
list_payments = PAYMENTS.list  # newest first
