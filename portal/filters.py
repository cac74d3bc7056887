"""Jinja2 filters that turn API values (ISO times, enum codes) into words for patients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

CHANNELS: Mapping[str, str] = {
    "sms": "Text message",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "phone": "Phone call",
    "portal": "Portal",
    "mail": "Post",
    "portal_message": "Portal",
    "letter": "Post",
}
ROLES: Mapping[str, str] = {
    "front_desk": "front desk staff",
    "nurse": "a nurse",
    "physician": "a physician",
    "therapist": "a therapist",
    "care_coordinator": "a care coordinator",
    "billing": "billing staff",
    "alumni_coordinator": "the alumni team",
    "integration": "a connected system",
    "admin": "an administrator",
    "auditor": "an auditor",
}
ACTIONS: Mapping[str, str] = {
    "read": "Viewed",
    "create": "Added to",
    "update": "Changed",
    "delete": "Removed from",
    "export": "Exported",
    "break_glass": "Emergency access opened",
}
ACTORS: Mapping[str, str] = {
    "patient_portal": "you, in the portal",
    "staff": "clinic staff",
    "stop_reply": "your STOP reply",
    "import": "an import from another system",
    "system": "the system",
}
SETTINGS: Mapping[str, str] = {
    "preferred_channel": "Preferred channel",
    "language": "Language",
    "quiet_hours_start": "Quiet hours start",
    "quiet_hours_end": "Quiet hours end",
    "do_not_contact": "Do not contact",
    "timezone": "Time zone",
}


def when(value: Any) -> str:
    """An ISO timestamp as ``Mon 3 Nov 2026, 09:00 UTC``."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} UTC"


def day(value: Any) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{moment.day} {moment:%B %Y}"


def label(value: Any) -> str:
    """``appointment_reminders`` -> ``Appointment reminders``."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def channel(value: Any) -> str:
    return CHANNELS.get(str(value), label(value))


def action(value: Any) -> str:
    return ACTIONS.get(str(value), label(value))


def roles(values: Iterable[str] | None, actor_kind: str = "staff") -> str:
    names = [ROLES.get(r, label(r)) for r in values or ()]
    if not names:
        return "a connected system" if actor_kind == "client" else "clinic staff"
    return " and ".join(names)


def record_types(values: Iterable[str] | None) -> str:
    words = sorted({label(_split_camel(v)).lower() for v in values or ()})
    return "Parts: " + ", ".join(words) if words else ""


def _split_camel(name: str) -> str:
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()


def actor(value: Any) -> str:
    return ACTORS.get(str(value), label(value))


def change(entry: Mapping[str, Any]) -> str:
    """One preference change in words: what changed, from what to what."""
    old, new = entry.get("oldValue"), entry.get("newValue")
    if entry.get("setting") == "contact_preference":
        what = f"{label(entry.get('messageType'))} by {channel(entry.get('channel')).lower()}"
        return f"{what}: {new or 'cleared'}" + (f" (was {old})" if old else "")
    name = SETTINGS.get(str(entry.get("setting")), label(entry.get("setting")))
    shown_new = channel(new) if entry.get("setting") == "preferred_channel" and new else new
    shown_old = channel(old) if entry.get("setting") == "preferred_channel" and old else old
    return f"{name}: {shown_new or 'none'}" + (f" (was {shown_old})" if shown_old else "")


FILTERS = {
    "when": when,
    "day": day,
    "label": label,
    "channel": channel,
    "action": action,
    "roles": roles,
    "record_types": record_types,
    "actor": actor,
    "change": change,
}
