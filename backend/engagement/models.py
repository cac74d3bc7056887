"""Placeholder: models of the engagement domain are being written."""
