"""Placeholder: models of the access domain (audit trail, break-glass) are being written."""
