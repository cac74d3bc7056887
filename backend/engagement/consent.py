"""Patient consents: treatment, telehealth, 42 CFR Part 2 disclosures, research, ROI ...

Imported through :mod:`backend.engagement.models`. The access layer reads active
``part2_disclosure`` consents to decide who may see Sensitivity.PART2 records, so the
recipients are structured (type + ids), not free text.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code
from backend.db import Base


class ConsentKind(enum.StrEnum):
    PART2_DISCLOSURE = "part2_disclosure"  # 42 CFR Part 2 consent to disclose SUD records
    RESEARCH = "research"
    TREATMENT = "treatment"
    TELEHEALTH = "telehealth"
    RELEASE_OF_INFORMATION = "release_of_information"  # HIPAA authorization
    PHOTO = "photo"
    TESTIMONIAL_PUBLICATION = "testimonial_publication"


class ConsentStatus(enum.StrEnum):
    """FHIR Consent.status; ``revoked`` exports as inactive with ``revoked_at`` as the
    provision end (entered-in-error is ``deleted_at``)."""

    PROPOSED = "proposed"
    ACTIVE = "active"
    REJECTED = "rejected"
    INACTIVE = "inactive"
    REVOKED = "revoked"


class RecipientType(enum.StrEnum):
    """Who may receive the information (FHIR Consent.provision.actor)."""

    CARE_TEAM = "care_team"
    ORGANIZATION = "organization"
    STAFF_ROLE = "staff_role"
    PERSON = "person"


class ConsentSource(enum.StrEnum):
    PORTAL = "portal"
    PAPER = "paper"
    PHONE = "phone"
    STAFF_ENTRY = "staff_entry"
    IMPORT = "import"


class ProvisionType(enum.StrEnum):
    """FHIR Consent.provision.type: a consent can also record a refusal."""

    PERMIT = "permit"
    DENY = "deny"


class Consent(PatientRecord, Base):
    """A consent the patient gave, refused or revoked: FHIR ``Consent``.

    ``kind`` decides FHIR scope and category (treatment -> treatment, research ->
    research, the rest -> patient-privacy); ``recipient_type`` + ``recipients`` are
    ``provision.actor``; ``purpose_of_use`` (v3 ActReason: TREAT, HPAYMT, HRESCH ...) is
    ``provision.purpose``; ``data_categories`` are ``provision.class``/``code``;
    ``period_*`` is ``provision.period``; ``document_ref`` is ``sourceReference``.
    Part 2 consents also need an expiration (a date or ``expiration_event``) and name the
    rule in ``policy_rule``.
    """

    __tablename__ = "consent"
    __extra_table_args__ = (
        Index("ix_consent_patient_id_kind_status", "patient_id", "kind", "status"),
    )

    kind: Mapped[ConsentKind]
    status: Mapped[ConsentStatus] = mapped_column(default=ConsentStatus.PROPOSED)
    provision_type: Mapped[ProvisionType] = mapped_column(default=ProvisionType.PERMIT)
    recipient_type: Mapped[RecipientType | None] = mapped_column(default=None)
    # [{"id": "<uuid or external id>", "name": "...", "role": "..."}]
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str | None] = mapped_column(String(200), default=None)
    purpose_of_use: Mapped[Code | None] = coded("purpose_of_use", nullable=True)
    # e.g. ["substance_use_treatment", "diagnoses", "medications", "lab_results"]
    data_categories: Mapped[list[Any]] = mapped_column(default=list)
    policy_rule: Mapped[str | None] = mapped_column(String(200), default=None)
    period_start: Mapped[datetime | None] = mapped_column(default=None)
    period_end: Mapped[datetime | None] = mapped_column(default=None)
    expiration_event: Mapped[str | None] = mapped_column(String(200), default=None)
    granted_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revocation_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    source: Mapped[ConsentSource] = mapped_column(default=ConsentSource.STAFF_ENTRY)
    # Who signed when not the patient (guardian of a minor, legal representative).
    signed_by_name: Mapped[str | None] = mapped_column(String(200), default=None)
    signer_relationship: Mapped[str | None] = mapped_column(String(64), default=None)
    witness_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    document_ref: Mapped[str | None] = mapped_column(String(500), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
