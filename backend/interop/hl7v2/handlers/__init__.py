"""One handler per message family; :data:`HANDLERS` maps (message code, trigger) to it.

A handler takes the :class:`~backend.interop.hl7v2.handlers.common.MessageContext`,
writes through the session it carries, and returns the ids of the patients it touched.
It raises :class:`~backend.interop.hl7v2.parse.Hl7ContentError` when the content is
wrong; anything it wrote is then rolled back with the savepoint around it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from backend.interop.hl7v2.handlers import adt, mdm, oru, siu
from backend.interop.hl7v2.handlers.common import MessageContext
from backend.interop.hl7v2.parse import Header

Handler = Callable[[MessageContext], list[uuid.UUID]]
Check = Callable[[Any, Header], object]
"""The content checks of a handler that need no database (its handler runs them too):
raises :class:`~backend.interop.hl7v2.parse.Hl7ContentError` for a wrong message."""

HANDLERS: dict[tuple[str, str], Handler] = {
    ("ADT", "A01"): adt.admit,
    ("ADT", "A03"): adt.discharge,
    ("ADT", "A04"): adt.register,
    ("ADT", "A08"): adt.register,
    ("ADT", "A40"): adt.merge,
    ("ORU", "R01"): oru.results,
    ("SIU", "S12"): siu.schedule,
    ("SIU", "S13"): siu.schedule,
    ("SIU", "S14"): siu.schedule,
    ("SIU", "S15"): siu.schedule,
    ("MDM", "T02"): mdm.document,
}
CHECKS: dict[tuple[str, str], Check] = {
    ("ADT", "A01"): adt.check_admit,
    ("ADT", "A03"): adt.check_discharge,
    ("ADT", "A04"): adt.check_register,
    ("ADT", "A08"): adt.check_register,
    ("ADT", "A40"): adt.check_merge,
    ("ORU", "R01"): oru.check_results,
    ("SIU", "S12"): siu.check_schedule,
    ("SIU", "S13"): siu.check_schedule,
    ("SIU", "S14"): siu.check_schedule,
    ("SIU", "S15"): siu.check_schedule,
    ("MDM", "T02"): mdm.check_document,
}
MESSAGE_CODES = frozenset(code for code, _ in HANDLERS)
