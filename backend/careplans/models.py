"""Placeholder: models of the careplans domain are being written."""
