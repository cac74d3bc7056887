"""Placeholder: models of the journey domain are being written."""
