"""The patient portal: server-rendered pages for patients (intake, consent, surveys, alumni)."""
