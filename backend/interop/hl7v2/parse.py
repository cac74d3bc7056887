"""HL7 v2 text in, parsed messages out: separators, the MSH header, and field access.

Parsing is python-hl7's (``hl7.parse``); this module only prepares the text for it
(byte-order mark, CR / LF / CRLF segment separators, blank lines, several messages in one
file) and reads values out of its parse tree without ``IndexError`` for fields a sender
left off, which HL7 allows everywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import hl7
from hl7.util import unescape

SUPPORTED_VERSIONS = ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8")
NULL = '""'
"""HL7's explicit null: "delete the value we hold". A field left empty means "no change"."""
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_EMPTY = re.compile(r"[\^~&\s]")  # "^^^" is a field sent with nothing in it


class Hl7ContentError(ValueError):
    """The message's content is wrong (ACK AE). ``location`` is ``SEG-n`` (or ``SEG``),
    ``code`` an HL7 table 0357 error code; the text never quotes patient data."""

    def __init__(self, location: str, problem: str, *, code: str = "102") -> None:
        super().__init__(f"{location}: {problem}" if location else problem)
        self.location = location
        self.problem = problem
        self.code = code  # 100 segment sequence, 101 required missing, 102 data type ...


def normalize(text: str) -> str:
    """One message or many, with CR between segments and no blank lines or BOM."""
    text = text.lstrip("\ufeff")
    lines = re.split(r"\r\n|\r|\n", text)
    return "\r".join(line for line in lines if line.strip())


def split_messages(text: str) -> list[str]:
    """Split a file (or any text) holding several messages at each MSH segment.

    Batch and file envelopes (FHS/BHS/BTS/FTS) carry no patient data and are dropped;
    anything before the first MSH is returned as its own chunk so the caller can reject
    it with a reason instead of losing it silently.
    """
    chunks: list[list[str]] = []
    for line in normalize(text).split("\r"):
        if line[:3] in {"FHS", "BHS", "BTS", "FTS"}:
            continue
        if line.startswith("MSH") or not chunks:
            chunks.append([line])
        else:
            chunks[-1].append(line)
    return ["\r".join(chunk) for chunk in chunks if chunk]


def digest(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()


@dataclass(frozen=True)
class Header:
    """What MSH says about a message; enough to file it, key it and answer it."""

    sending_application: str  # MSH-3 as sent
    sending_facility: str  # MSH-4
    receiving_application: str  # MSH-5
    receiving_facility: str  # MSH-6
    sent_at: datetime | None  # MSH-7
    message_code: str  # MSH-9.1, e.g. ADT
    trigger: str  # MSH-9.2, e.g. A01
    control_id: str  # MSH-10
    processing_id: str  # MSH-11
    version: str  # MSH-12

    @property
    def source(self) -> str:
        return f"{self.sending_application}|{self.sending_facility}"[:255]

    @property
    def event(self) -> tuple[str, str]:
        """(message code, trigger) in capitals: the key of the handler tables."""
        return self.message_code.upper(), self.trigger.upper()

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}" if self.trigger else self.message_code

    @property
    def version_supported(self) -> bool:
        return any(
            self.version == v or self.version.startswith(v + ".") for v in SUPPORTED_VERSIONS
        )


@dataclass(frozen=True)
class Parsed:
    message: Any  # hl7.Message; python-hl7 ships no type information
    header: Header
    text: str  # normalised


def parse(text: str) -> Parsed:
    """Parse one message. Raises :class:`Hl7ContentError` when it is not HL7 v2 at all."""
    text = normalize(text)
    if not text.startswith("MSH") or len(text) < 8:
        raise Hl7ContentError("MSH", "the message does not start with an MSH segment", code="100")
    for n, line in enumerate(text.split("\r"), start=1):
        if not _SEGMENT_ID.match(line[:3]) or (len(line) > 3 and line[3] != text[3]):
            raise Hl7ContentError(f"segment {n}", "not an HL7 segment", code="100")
    try:
        message = hl7.parse(text)
    except Exception as exc:  # python-hl7 raises several types for malformed input
        raise Hl7ContentError("MSH", f"unparseable ({type(exc).__name__})", code="102") from None
    msh = message.segment("MSH")
    try:
        sent_at = optional_datetime(msh, 7)
    except Hl7ContentError:
        sent_at = None  # only informative; a bad MSH-7 must not stop the message being filed
    header = Header(
        sending_application=get(msh, 3),
        sending_facility=get(msh, 4),
        receiving_application=get(msh, 5),
        receiving_facility=get(msh, 6),
        sent_at=sent_at,
        message_code=get(msh, 9, comp=1),
        trigger=get(msh, 9, comp=2),
        control_id=get(msh, 10),
        processing_id=get(msh, 11),
        version=get(msh, 12),
    )
    return Parsed(message=message, header=header, text=text)


def field_text(segment: Any, field: int) -> str:
    """A whole field as sent (components and all), or "" when absent."""
    try:
        return str(segment(field)) if field < len(segment) else ""
    except IndexError:
        return ""


def get(segment: Any, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """One value, unescaped; "" when the sender left it off (HL7 optional semantics) or
    sent the explicit null (:data:`NULL`): what to do about the value held is
    :func:`sent`'s question, and a literal ``""`` must never be stored as data."""
    if segment is None:
        return ""
    if field in _HD_FIELDS and comp == 1 and sub == 1 and segment[0][0] == "MSH":
        # HD fields: keep all components ("App^1.2.3^ISO") so two systems differ.
        return field_text(segment, field)
    text = value_at(segment, field, rep, comp, sub).strip()
    return "" if text == NULL else text


_HD_FIELDS = frozenset({3, 4, 5, 6})


def value_at(segment: Any, field: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """The value at that position, unescaped (MSH-1 and MSH-2, the separators, as they
    are), "" where there is none: what python-hl7's ``Segment.extract_field`` answers."""
    value = _leaf(segment, field, rep, comp, sub)
    if segment.esc in value and not (field in (1, 2) and segment[0][0] == "MSH"):
        return str(unescape(segment, value))
    return value


def _leaf(segment: Any, field: int, rep: int, comp: int, sub: int) -> str:
    """The value at field / repetition / component / subcomponent, as python-hl7's
    ``Segment.extract_field`` finds it (a shorter path than asked for answers when the
    rest of the path is all 1s), with "" where it would raise: the same walk without
    its per-call bookkeeping, which cost a fifth of mapping a registration."""
    if field >= len(segment):
        return ""
    value = segment[field]
    if isinstance(value, str):
        return value if rep == 1 and comp == 1 and sub == 1 else ""
    if rep > len(value):
        return ""
    value = value[rep - 1]
    if not isinstance(value, hl7.Repetition):
        return value if comp == 1 and sub == 1 else ""
    if comp > len(value):
        return ""
    value = value[comp - 1]
    if not isinstance(value, hl7.Component):
        return value if sub == 1 else ""
    return value[sub - 1] if sub <= len(value) else ""


def _extract(segment: Any, field: int, rep: int, comp: int, sub: int) -> str:
    """python-hl7's own walk (:func:`_leaf` must agree with it; the tests compare)."""
    try:
        return str(segment.extract_field(1, field, rep, comp, sub))
    except IndexError:
        return ""


def sent(segment: Any, field: int) -> bool:
    """Whether the sender said anything about a field: a value, or the explicit null.

    HL7 v2 (chapter 2, null values and snapshot processing): a field that is not
    present means "no change" on an update; ``""`` means "delete what you hold"; a value
    replaces what is held, all repetitions at once for a repeating field."""
    return segment is not None and _EMPTY.sub("", field_text(segment, field)) != ""


def repeats(segment: Any, field: int) -> int:
    """How many repetitions a field has (0 when empty)."""
    if segment is None or field >= len(segment):
        return 0
    value = segment(field)
    if _blank(value):
        return 0
    return len(value) if isinstance(value, hl7.Field) and _is_repeated(value) else 1


def _blank(value: Any) -> bool:
    """``str(value) == ""`` without building the string: a container of two or more
    parts holds at least a separator."""
    if isinstance(value, str):
        return not value
    return not value or (len(value) == 1 and _blank(value[0]))


def _is_repeated(value: Any) -> bool:
    return bool(value) and all(isinstance(r, hl7.Repetition) for r in value)


def segments(message: Any, segment_id: str) -> list[Any]:
    return [s for s in message if str(s[0][0]) == segment_id]


def first(message: Any, segment_id: str) -> Any | None:
    found = segments(message, segment_id)
    return found[0] if found else None


def parse_hl7_datetime(value: str, location: str) -> datetime | None:
    """HL7 DTM (YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ]) as an aware UTC datetime.

    A time without an offset is taken as UTC: the data model refuses naive datetimes,
    and senders that omit the offset are expected to send UTC (documented in the guide).
    """
    value = value.strip()
    if not value:
        return None
    try:
        parsed = hl7.parse_datetime(value)
    except (ValueError, TypeError):
        raise Hl7ContentError(location, "not a valid HL7 date/time") from None
    if not isinstance(parsed, datetime):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def optional_datetime(segment: Any, field: int, comp: int = 1) -> datetime | None:
    name = f"{segment[0][0]}-{field}" if segment is not None else ""
    return parse_hl7_datetime(get(segment, field, comp=comp), name)


def parse_hl7_date(value: str, location: str) -> date | None:
    moment = parse_hl7_datetime(value[:8], location) if value.strip() else None
    return moment.date() if moment else None
