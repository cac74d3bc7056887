"""Contact preferences: read the channel x message-type matrix, change it with history.

The matrix is sparse in the database (no row = the clinic default: marketing off,
everything else on) and complete here. Every change writes an insert-only
:class:`PreferenceChange` (who, when, how, old and new value) in the same transaction,
because an opt-out must be provable. A change is all or nothing: the whole form is
checked before anything is written, and a submission that changes nothing writes
nothing (so a double submit is harmless).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.listing import list_patient_records
from backend.access.masking import Withheld
from backend.access.models import AuditAction
from backend.access.policy import WRITE, CompiledPolicy
from backend.access.principal import Principal, PrincipalKind
from backend.access.reads import ReadLog
from backend.access.scoping import can_see_patient
from backend.common.errors import Forbidden, NotFound
from backend.common.mixins import utcnow
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.models import (
    CommunicationSettings,
    ContactPreference,
    PreferenceChange,
    PreferenceChangeActor,
)
from backend.engagement.records import (
    CommunicationSettingsView,
    ContactPreferenceView,
    PreferenceCell,
    PreferenceChangeView,
    PreferencesView,
)

DEFAULT_OFF = frozenset({MessageType.MARKETING})
"""Message types a patient must opt in to; every other type is allowed until refused."""
LANGUAGES: Mapping[str, str] = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "pt": "Português",
    "vi": "Tiếng Việt",
    "zh": "中文",
    "ar": "العربية",
    "ru": "Русский",
}
HISTORY_LIMIT = 200
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class PreferenceInputError(ValueError):
    """A bad value; ``field`` names the form field. Nothing was written."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class PreferenceWriteForbidden(Forbidden):
    """The caller may read but not change this patient's preferences (``refused`` names
    the field they lack, for the audit trail's refusal event)."""


def default_allowed(message_type: MessageType) -> bool:
    return message_type not in DEFAULT_OFF


@dataclass(frozen=True, slots=True)
class PreferenceUpdate:
    """The whole form: every cell's wish, plus the overall settings (raw text is parsed
    by :func:`parse_update` so transports share one set of messages)."""

    allowed: Mapping[tuple[PreferenceChannel, MessageType], bool]
    preferred_channel: PreferenceChannel | None
    language: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None


def _parse_time(raw: str, field: str) -> time | None:
    raw = raw.strip()
    if not raw:
        return None
    match = _TIME.match(raw)
    if not match:
        raise PreferenceInputError("Enter a time like 21:00.", field=field)
    return time(int(match.group(1)), int(match.group(2)))


def parse_update(
    *,
    checked: set[str],
    preferred_channel: str,
    language: str,
    quiet_hours_start: str,
    quiet_hours_end: str,
) -> PreferenceUpdate:
    """Turn form values into an update. ``checked`` holds ``"channel:message_type"`` for
    every ticked cell (an unticked checkbox sends nothing, so absent means refused)."""
    known = {f"{c.value}:{m.value}" for c in PreferenceChannel for m in MessageType}
    unknown = checked - known
    if unknown:
        raise PreferenceInputError("Unknown channel or message type.", field="allowed")
    allowed = {
        (c, m): f"{c.value}:{m.value}" in checked for c in PreferenceChannel for m in MessageType
    }
    channel: PreferenceChannel | None = None
    if preferred_channel:
        try:
            channel = PreferenceChannel(preferred_channel)
        except ValueError:
            raise PreferenceInputError(
                "Choose a channel from the list.", field="preferred_channel"
            ) from None
    if language not in LANGUAGES:
        raise PreferenceInputError("Choose a language from the list.", field="language")
    start = _parse_time(quiet_hours_start, "quiet_hours_start")
    end = _parse_time(quiet_hours_end, "quiet_hours_end")
    if (start is None) != (end is None):
        field = "quiet_hours_end" if end is None else "quiet_hours_start"
        raise PreferenceInputError("Give both a start and an end, or neither.", field=field)
    if start is not None and start == end:
        raise PreferenceInputError("Start and end must differ.", field="quiet_hours_end")
    if channel is not None and not any(allowed[(channel, m)] for m in MessageType):
        raise PreferenceInputError(
            "Your preferred channel is switched off for every message type.",
            field="preferred_channel",
        )
    return PreferenceUpdate(allowed, channel, language, start, end)


def get_preferences(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    log: ReadLog | None = None,
    now: datetime | None = None,
) -> PreferencesView | None:
    """The patient's full matrix, settings and change history; None when not in scope."""
    now = now or utcnow()
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        return None
    common = {
        "session": session,
        "principal": principal,
        "policy": policy,
        "patient_ids": [patient_id],
        "log": log,
        "now": now,
    }
    stored = list_patient_records(
        model=ContactPreference,
        view=ContactPreferenceView,
        order_by=(ContactPreference.channel, ContactPreference.message_type),
        **common,  # type: ignore[arg-type]
    )
    settings = list_patient_records(
        model=CommunicationSettings,
        view=CommunicationSettingsView,
        order_by=(CommunicationSettings.id,),
        **common,  # type: ignore[arg-type]
    )
    history = list_patient_records(
        model=PreferenceChange,
        view=PreferenceChangeView,
        order_by=(PreferenceChange.changed_at.desc(), PreferenceChange.id),
        **common,  # type: ignore[arg-type]
    )
    withheld: list[Withheld] = []
    if stored is None:
        withheld.append(Withheld("cells", "field_group:contact_preferences"))
    if history is None:
        withheld.append(Withheld("history", "field_group:contact_preferences"))
    cells_by_key = {
        (v.channel, v.message_type): v.allowed for v in (stored or {}).get(patient_id, [])
    }
    cells = tuple(
        PreferenceCell(
            channel=c.value,
            message_type=m.value,
            allowed=bool(cells_by_key.get((c.value, m.value), default_allowed(m))),
            is_default=(c.value, m.value) not in cells_by_key,
        )
        for m in MessageType
        for c in PreferenceChannel
    )
    own_settings = (settings or {}).get(patient_id, [])
    return PreferencesView(
        patient_id=patient_id,
        cells=cells if stored is not None else (),
        settings=own_settings[0] if own_settings else None,
        history=tuple((history or {}).get(patient_id, [])[:HISTORY_LIMIT]),
        withheld=tuple(withheld),
    )


def _actor(principal: Principal) -> tuple[PreferenceChangeActor, uuid.UUID | None]:
    if principal.kind is PrincipalKind.PATIENT:
        return PreferenceChangeActor.PATIENT_PORTAL, None
    return PreferenceChangeActor.STAFF, principal.subject_id


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, bool):
        return "allowed" if value else "refused"
    return str(getattr(value, "value", value))


def update_preferences(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    patient_id: uuid.UUID,
    update: PreferenceUpdate,
    method_detail: str,
    now: datetime | None = None,
) -> int:
    """Apply a whole preferences form; the number of changes written. Raises
    :class:`~backend.common.errors.NotFound` when the patient is not in scope and
    :class:`PreferenceWriteForbidden` without the ``contact_preferences`` write grant."""
    now = now or utcnow()
    if not can_see_patient(session=session, principal=principal, patient_id=patient_id, now=now):
        raise NotFound()
    writable = policy.allowed_fields(principal.roles, "ContactPreference", WRITE)
    if "allowed" not in writable:
        raise PreferenceWriteForbidden(
            "changing preferences needs contact_preferences write",
            refused=["ContactPreference.allowed"],
        )
    actor, staff_id = _actor(principal)
    changes: list[PreferenceChange] = []

    def change(setting: str, old: object, new: object, **cell: object) -> None:
        changes.append(
            PreferenceChange(
                patient_id=patient_id,
                effective_at=now,
                setting=setting,
                old_value=_text(old),
                new_value=_text(new),
                changed_by=actor,
                staff_id=staff_id,
                method_detail=method_detail[:200],
                changed_at=now,
                **cell,
            )
        )

    stored = {
        (row.channel, row.message_type): row
        for row in session.scalars(
            select(ContactPreference).where(
                ContactPreference.patient_id == patient_id, ContactPreference.deleted_at.is_(None)
            )
        )
    }
    for (channel, message_type), wanted in update.allowed.items():
        row = stored.get((channel, message_type))
        current = row.allowed if row is not None else default_allowed(message_type)
        if row is None and wanted == current:
            continue  # leave the default implicit: the clinic may change defaults later
        if row is not None and row.allowed == wanted:
            continue
        if row is None:
            session.add(
                ContactPreference(
                    patient_id=patient_id,
                    channel=channel,
                    message_type=message_type,
                    allowed=wanted,
                    effective_at=now,
                )
            )
        else:
            row.allowed = wanted
            row.effective_at = now
        change("contact_preference", current, wanted, channel=channel, message_type=message_type)
    settings = session.scalars(
        select(CommunicationSettings).where(
            CommunicationSettings.patient_id == patient_id,
            CommunicationSettings.deleted_at.is_(None),
        )
    ).one_or_none()
    if settings is None:
        settings = CommunicationSettings(patient_id=patient_id, effective_at=now, language="en")
        fresh = True
    else:
        fresh = False
    for name in ("preferred_channel", "language", "quiet_hours_start", "quiet_hours_end"):
        old = getattr(settings, name, None)
        new = getattr(update, name)
        if old != new:
            setattr(settings, name, new)
            change(name, old, new)
    if fresh and any(c.setting != "contact_preference" for c in changes):
        session.add(settings)
    if not changes:
        return 0
    session.add_all(changes)
    session.flush()
    audit.record(
        session=session,
        principal=principal,
        action=AuditAction.UPDATE,
        patient_id=patient_id,
        record_types=sorted({"PreferenceChange", *(_field(c).partition(".")[0] for c in changes)}),
        fields=sorted({_field(c) for c in changes}),
        policy_version=policy.version,
        now=now,
    )
    return len(changes)


def _field(change: PreferenceChange) -> str:
    """The ``Type.field`` a change touched, for the audit trail (names only)."""
    if change.setting == "contact_preference":
        return "ContactPreference.allowed"
    return f"CommunicationSettings.{change.setting}"
