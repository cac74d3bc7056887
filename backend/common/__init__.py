"""Column types and mixins shared by every domain's models."""
