"""Placeholder: models of the auth domain are being written."""
