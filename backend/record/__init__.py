"""The unified record: which record types make up a patient's story, and its timeline."""
