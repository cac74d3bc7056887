"""Placeholder: models of the billing domain are being written."""
