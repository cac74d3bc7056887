"""Placeholder: models of the forms domain are being written."""
