"""The careplans domain."""
