"""The journey domain."""
