"""The forms domain."""
