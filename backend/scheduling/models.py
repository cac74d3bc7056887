"""Placeholder: models of the scheduling domain are being written."""
