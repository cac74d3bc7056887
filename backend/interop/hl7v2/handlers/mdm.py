"""MDM^T02 (original document with content) -> ClinicalNote.

The note is keyed by TXA-12 (the document's unique number), so an addendum or a resend
updates it. Text content (OBX TX / FT / ST) becomes the body; a document sent only as an
encapsulated file (OBX ED) is kept as its base64 text with a ``;base64`` content type.
"""

from __future__ import annotations

import uuid
from typing import Any

from backend.clinical.models import ClinicalNote, NoteKind, NoteStatus
from backend.common.types import Code
from backend.interop.hl7v2.handlers.common import (
    MessageContext,
    check_pid,
    event_time,
    patient_from_pid,
    upsert,
)
from backend.interop.hl7v2.parse import (
    Header,
    Hl7ContentError,
    first,
    get,
    optional_datetime,
    parse_hl7_datetime,
    repeats,
    segments,
)

LOINC = "http://loinc.org"
V2_0270 = "http://terminology.hl7.org/CodeSystem/v2-0270"
# TXA-2 (table 0270) -> LOINC document type and our kind.
_DOC_TYPES = {
    "DS": ("18842-5", "Discharge summary", NoteKind.DISCHARGE_SUMMARY),
    "PN": ("11506-3", "Progress note", NoteKind.PROGRESS),
    "HP": ("34117-2", "History and physical note", NoteKind.ASSESSMENT),
    "CN": ("11488-4", "Consult note", NoteKind.ASSESSMENT),
    "OP": ("11504-8", "Surgical operation note", NoteKind.PROGRESS),
    "DI": ("18748-4", "Diagnostic imaging study", NoteKind.PROGRESS),
}


def check_document(message: Any, header: Header) -> Any:
    """What makes an MDM^T02 wrong before any record is read: TXA, PID-3 and the times
    (TXA-4, TXA-6, TXA-22, EVN-2); returns the TXA."""
    txa = first(message, "TXA")
    if txa is None:
        raise Hl7ContentError("TXA", "a document message needs a TXA segment", code="100")
    check_pid(message, header, demographics=False)
    optional_datetime(txa, 4)
    optional_datetime(txa, 6)
    parse_hl7_datetime(get(txa, 22, comp=15), "TXA-22")
    event_time(message)
    return txa


def document(ctx: MessageContext) -> list[uuid.UUID]:
    """T02: the document as a note on the PID's patient."""
    txa = check_document(ctx.message, ctx.header)
    patient = patient_from_pid(ctx, update=False)
    number = get(txa, 12) or get(txa, 13)
    key = f"doc:{number}" if number else f"msg:{ctx.header.control_id}"
    note, _ = upsert(ctx.session, ClinicalNote, ctx.source_system, key)
    note.patient_id = patient.id
    type_code = get(txa, 2).upper()
    loinc, display, kind = _DOC_TYPES.get(type_code, (None, None, NoteKind.PROGRESS))
    if loinc is not None:
        note.doc_type = Code(LOINC, loinc, display)
    else:
        note.doc_type = Code(V2_0270, (type_code or "UNKNOWN")[:64], None)
    note.kind = kind
    note.title = (display or f"Document {type_code or 'without a type'}")[:200]
    note.effective_at = optional_datetime(txa, 4) or optional_datetime(txa, 6) or ctx.event_at
    note.period_start = note.effective_at
    status = get(txa, 17).upper()
    signed = status in {"AU", "LA"}
    note.status = NoteStatus.SIGNED if signed else NoteStatus.DRAFT
    signed_at = parse_hl7_datetime(get(txa, 22, comp=15), "TXA-22")
    note.signed_at = (signed_at or ctx.event_at) if signed else None
    text: list[str] = []
    encapsulated: tuple[str, str] | None = None
    for obx in segments(ctx.message, "OBX"):
        kind_of_value = get(obx, 2).upper()
        if kind_of_value in {"TX", "FT", "ST"}:
            text += [get(obx, 5, r) for r in range(1, max(repeats(obx, 5), 1) + 1)]
        elif kind_of_value == "ED" and get(obx, 5, comp=5) and encapsulated is None:
            mime = f"{get(obx, 5, comp=2)}/{get(obx, 5, comp=3)}".strip("/")
            encapsulated = (mime or "application/octet-stream", get(obx, 5, comp=5))
    if text:
        note.body, note.content_type = "\n".join(text), "text/plain"
    elif encapsulated is not None:
        note.content_type = f"{encapsulated[0]};base64"[:64]
        note.body = encapsulated[1]
    else:
        note.body, note.content_type = "", "text/plain"
        ctx.warnings.append("MDM: the document has no content (no OBX text or ED data)")
    return [patient.id]
