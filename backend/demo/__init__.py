"""Realistic, deterministic demo data: ``patient360 demo --patients N --seed S``."""
