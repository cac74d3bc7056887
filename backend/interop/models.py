"""Resources kept as received: what the importers could not (or must not) map to a model.

The interop issue requires that nothing a feed sends is thrown away. A resource type with no
home in the unified record (Device, Provenance, Media ...), a contained resource nobody
references, or a resource that failed validation is stored here whole, so it can be
exported again by ``Patient/$everything`` and mapped properly once a model exists for it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.mixins import Tracked, utcnow
from backend.common.types import Sensitivity
from backend.db import Base


class RawReason(enum.StrEnum):
    """Why a resource was kept raw instead of mapped."""

    UNMAPPED_TYPE = "unmapped_type"  # no model for this resourceType (see fhir_map.KEPT_RAW)
    UNKNOWN_TYPE = "unknown_type"  # not a FHIR R4 resourceType we know at all
    UNRESOLVED_REFERENCE = "unresolved_reference"  # its subject/patient could not be found
    INVALID = "invalid"  # failed validation; ``note`` says why
    ORIGINAL = "original"  # a mapped resource kept verbatim as well (audit, debugging)
    # The previous values of a record a re-import changed (FHIR import history; the
    # body names the table, the old version and the old values of the changed columns).
    SUPERSEDED = "superseded"


class RawResource(Tracked, Base):
    """One FHIR resource (or HL7 v2 message) stored as the source sent it.

    ``(source_system, source_id)`` is the source's identity of the resource (for FHIR the
    server base or bundle source, and ``resourceType/id``), unique like every other table,
    so a re-import updates instead of duplicating. ``patient_id`` is set when the resource
    belongs to a known patient, so ``Patient/$everything`` can include it; it stays None
    for shared resources (a Device, a Medication definition). ``sensitivity`` is the same
    bit set patient records carry: a raw resource is no less private than a mapped one.
    """

    __tablename__ = "raw_resource"
    __extra_table_args__ = (
        Index("ix_raw_resource_patient_id_resource_type", "patient_id", "resource_type"),
    )

    patient_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), default=None
    )
    resource_type: Mapped[str] = mapped_column(String(64), index=True)  # FHIR resourceType
    # "fhir-r4" or "hl7v2": the format ``body`` is in.
    format: Mapped[str] = mapped_column(String(16), default="fhir-r4")
    body: Mapped[dict[str, Any]]  # the resource JSON (HL7 v2: {"message": "MSH|..."})
    reason: Mapped[RawReason] = mapped_column(default=RawReason.UNMAPPED_TYPE, index=True)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The Bundle (or batch) it arrived in, to find its siblings when mapping it later.
    bundle_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    sensitivity: Mapped[Sensitivity] = mapped_column(default=Sensitivity.NONE)
