"""Every HL7 v2 message we were sent, stored raw with its processing state.

The table is the inbound log *and* the error queue: a message whose content was wrong, or
that could not be processed yet (the merge service missing, a bug), stays here as
``failed`` until someone retries it after the fix; an unsupported message type is
``rejected`` with the reason. Nothing a feed sends is dropped.

Identity: senders' control ids (MSH-10) are meant to be unique per sender, but real
feeds (and the public sample set, which reuses ``MSG00001`` for 22 different messages)
repeat them. The key is therefore (source, control id, digest of the message): an exact
resend is recognised and answered with the ACK it got the first time, while a different
message under a reused control id is processed as the message it is.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.mixins import UUIDPrimaryKey, utcnow
from backend.db import Base


class MessageState(enum.StrEnum):
    # Stored, not yet processed: mid-transaction, or acknowledged by a listener that
    # answers once stored (ack_after="stored") and waiting for its applier.
    RECEIVED = "received"
    PROCESSED = "processed"  # mapped into the record; ACK AA
    FAILED = "failed"  # the error queue: content wrong (AE) or not processable now (AR)
    REJECTED = "rejected"  # a type, event or version we do not handle (AR); kept with reason


class Hl7Message(UUIDPrimaryKey, Base):
    """One inbound HL7 v2 message. ``error_code`` / ``error_detail`` never quote message
    content: they name the segment and field and what was wrong with it, so the queue
    can be listed to people who may not read the patient data inside."""

    __tablename__ = "hl7_message"
    __table_args__ = (
        UniqueConstraint("source", "control_id", "digest"),
        Index("ix_hl7_message_state_received_at", "state", "received_at"),
    )

    # MSH-3 and MSH-4 (sending application / facility) as "app|facility".
    source: Mapped[str] = mapped_column(String(255))
    control_id: Mapped[str] = mapped_column(String(199))  # MSH-10
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the normalised message
    message_type: Mapped[str] = mapped_column(String(20), index=True)  # "ADT^A01"
    version: Mapped[str] = mapped_column(String(16))  # MSH-12
    transport: Mapped[str] = mapped_column(String(8), default="mllp")  # mllp | file
    state: Mapped[MessageState] = mapped_column(default=MessageState.RECEIVED)
    error_code: Mapped[str | None] = mapped_column(String(40), default=None)
    error_detail: Mapped[str | None] = mapped_column(Text, default=None)
    # Things accepted with a caveat ("OBX #2 has no OBX-3; kept only in the raw message").
    warnings: Mapped[list[Any] | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    raw: Mapped[str] = mapped_column(Text)  # as received, segments separated by CR
    ack_code: Mapped[str | None] = mapped_column(String(2), default=None)  # AA | AE | AR
    ack: Mapped[str | None] = mapped_column(Text, default=None)  # the ACK we answered with
    # Patients the message created or updated (for the matcher and for finding the
    # message again from a patient); ids only.
    patient_ids: Mapped[list[Any] | None] = mapped_column(default=None)
