"""Views of the HL7 message log handed to transports: ids, types, state, error codes.

No patient data: the raw message, the ACK and the patient ids stay in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from backend.access.masking import Withheld


@dataclass(frozen=True)
class Hl7MessageView:
    id: uuid.UUID
    source: str
    control_id: str
    message_type: str
    version: str
    transport: str
    state: str
    ack_code: str | None
    error_code: str | None
    error_detail: str | None  # names segment and field, never their values
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    withheld: tuple[Withheld, ...] = ()


@dataclass(frozen=True)
class Hl7MessagePage:
    messages: list[Hl7MessageView]
    cursors: list[str]
    has_next_page: bool
