"""Enumerations shared by the engagement models (communications, preferences, consents,
surveys, reviews). Kept apart so the model modules can import them without cycles."""

from __future__ import annotations

import enum


class CommunicationChannel(enum.StrEnum):
    """How a message travelled: FHIR Communication.medium (v3 ParticipationMode)."""

    PHONE = "phone"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    PORTAL_MESSAGE = "portal_message"
    VIDEO = "video"
    IN_PERSON = "in_person"
    LETTER = "letter"


class PreferenceChannel(enum.StrEnum):
    """Channels a patient can allow or refuse, per message type."""

    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    PHONE = "phone"
    PORTAL = "portal"
    MAIL = "mail"


class MessageType(enum.StrEnum):
    """What a message is about; preferences and campaigns are kept per type."""

    APPOINTMENT_REMINDERS = "appointment_reminders"
    CARE_PLAN_UPDATES = "care_plan_updates"
    LAB_RESULT_NOTICES = "lab_result_notices"
    BILLING = "billing"
    SURVEYS = "surveys"
    ALUMNI_EVENTS = "alumni_events"
    MARKETING = "marketing"


class Direction(enum.StrEnum):
    INBOUND = "inbound"  # from the patient (or their representative) to us
    OUTBOUND = "outbound"  # from us to the patient
