"""Acknowledgements (original mode): MSA AA / AE / AR, with an ERR segment on errors.

AA: the message is stored and processed. AE: its content is wrong (ERR says where and
why). AR: it cannot be processed, now (database down, merge service missing: the sender
should resend) or ever (a message type we do not handle).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.interop.hl7v2.parse import Header

RECEIVING_APPLICATION = "patient360"

# HL7 table 0357 texts for the codes we send.
ERROR_TEXT = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:-(\d+))?")


@dataclass(frozen=True)
class AckError:
    code: str  # table 0357
    location: str  # "PID-7", "OBX", "" when the whole message
    detail: str  # what was wrong, without patient data


def escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text).replace("\r", " ").replace("\n", " ")


def _err_segment(version: str, error: AckError) -> str:
    match = _LOCATION.match(error.location)
    segment = match.group(1) if match else ""
    field = (match.group(2) or "") if match else ""
    text = ERROR_TEXT.get(error.code, "Error")
    detail = escape(error.detail)
    if version[:3] in {"2.3", "2.4"}:
        # ERR-1 ELD: segment^sequence^field^code&text&table (v2.3, v2.4)
        return f"ERR|{segment}^1^{field}^{error.code}&{text}&HL70357"
    location = f"{segment}^1^{field}" if segment else ""
    return f"ERR||{location}|{error.code}^{text}^HL70357|E||||{detail}"


def build_ack(
    header: Header | None,
    code: str,
    *,
    error: AckError | None = None,
    now: datetime | None = None,
) -> str:
    """The ACK for ``header`` (or for something we could not read a header from)."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")
    ack_id = uuid.uuid4().hex[:20]
    if header is None:
        version, trigger, to_app, to_fac, control, processing = "2.5", "", "", "", "", "P"
    else:
        version = header.version if header.version_supported else "2.5"
        trigger, control = header.trigger, header.control_id
        to_app, to_fac = header.sending_application, header.sending_facility
        processing = header.processing_id or "P"
    message_type = f"ACK^{escape(trigger)}^ACK" if trigger else "ACK"
    lines = [
        f"MSH|^~\\&|{RECEIVING_APPLICATION}||{to_app}|{to_fac}|{moment}||{message_type}|"
        f"{ack_id}|{processing}|{version}",
        f"MSA|{code}|{escape(control)}" + (f"|{escape(error.detail)}" if error else ""),
    ]
    if error is not None:
        lines.append(_err_segment(version, error))
    return "\r".join(lines)
