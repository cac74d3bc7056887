"""Engagement use cases for every transport (reads through the shared access path; the
listings are declared in :mod:`backend.record.categories`)."""

from __future__ import annotations

from backend.record.categories import (
    COMMUNICATIONS,
    CONSENTS,
    REVIEWS,
    SURVEY_INVITATIONS,
    SURVEY_RESPONSES,
)

list_communications = COMMUNICATIONS.list  # newest first; None when withheld
list_consents = CONSENTS.list
list_survey_invitations = SURVEY_INVITATIONS.list  # never with the token hash
list_survey_responses = SURVEY_RESPONSES.list
list_reviews = REVIEWS.list
