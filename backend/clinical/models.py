"""Placeholder: models of the clinical domain are being written."""
