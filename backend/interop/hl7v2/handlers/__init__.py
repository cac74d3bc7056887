"""One handler per message family; :data:`HANDLERS` maps (message code, trigger) to it.

A handler takes the :class:`~backend.interop.hl7v2.handlers.common.MessageContext`,
writes through the session it carries, and returns the ids of the patients it touched.
It raises :class:`~backend.interop.hl7v2.parse.Hl7ContentError` when the content is
wrong; anything it wrote is then rolled back with the savepoint around it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from backend.interop.hl7v2.handlers import adt, mdm, oru, siu
from backend.interop.hl7v2.handlers.common import MessageContext

Handler = Callable[[MessageContext], list[uuid.UUID]]

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
MESSAGE_CODES = frozenset(code for code, _ in HANDLERS)
