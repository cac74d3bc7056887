"""Placeholder: models of the identity domain are being written."""
