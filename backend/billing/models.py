"""Insurance, authorizations, charges, invoices and payments.

The money trail runs coverage -> prior authorization -> charge (one billed service line,
usually from one encounter) -> invoice (a statement grouping charges) -> payments applied
to the invoice. Amounts are ``Decimal`` (NUMERIC(12,2)) in the invoice's currency.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.columns import coded
from backend.common.mixins import PatientRecord
from backend.common.types import Code, CodeSystem, LevelOfCare
from backend.db import Base
from backend.organization.models import Organization

HCPCS = CodeSystem.HCPCS
"""HCPCS Level II (H0015, H0035, T1016 ...): behavioural-health services billed outside CPT."""

PLACE_OF_SERVICE = "https://www.cms.gov/Medicare/Coding/place-of-service-codes"
"""CMS place-of-service codes (11 office, 02/10 telehealth, 55 residential SUD ...)."""


class CoverageKind(enum.StrEnum):
    """FHIR Coverage.type, coarsely: what kind of arrangement pays."""

    INSURANCE = "insurance"
    MEDICAID = "medicaid"
    MEDICARE = "medicare"
    SELF_PAY = "self_pay"
    GRANT = "grant"  # state SUD block grants and similar funded slots
    OTHER = "other"


class CoverageStatus(enum.StrEnum):
    """FHIR fm-status."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    DRAFT = "draft"
    ENTERED_IN_ERROR = "entered_in_error"


class CoverageOrder(enum.StrEnum):
    """Coordination of benefits: which coverage is billed first (FHIR Coverage.order 1/2/3)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class SubscriberRelationship(enum.StrEnum):
    """FHIR subscriber-relationship: the patient's relation to the policy holder."""

    SELF = "self"
    SPOUSE = "spouse"
    CHILD = "child"  # the patient is the subscriber's child (the subscriber is a parent)
    PARENT = "parent"
    COMMON = "common"  # common-law spouse / domestic partner
    INJURED = "injured"
    OTHER = "other"


class Coverage(PatientRecord, Base):
    """An insurance policy (or self-pay arrangement) the patient's care is billed to.
    FHIR Coverage.

    ``payer_id`` points at an organization of kind ``payer``; self-pay is modelled as a
    payer organization too so every charge has somewhere to go.
    """

    __tablename__ = "coverage"
    __extra_table_args__ = (Index("ix_coverage_payer_id_member_id", "payer_id", "member_id"),)

    payer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organization.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[CoverageKind] = mapped_column(default=CoverageKind.INSURANCE)
    status: Mapped[CoverageStatus] = mapped_column(default=CoverageStatus.ACTIVE, index=True)
    coverage_order: Mapped[CoverageOrder] = mapped_column(default=CoverageOrder.PRIMARY)
    plan_name: Mapped[str | None] = mapped_column(String(200), default=None)
    member_id: Mapped[str | None] = mapped_column(String(64), default=None)
    group_id: Mapped[str | None] = mapped_column(String(64), default=None)
    subscriber_relationship: Mapped[SubscriberRelationship] = mapped_column(
        default=SubscriberRelationship.SELF
    )
    subscriber_name: Mapped[str | None] = mapped_column(String(200), default=None)
    subscriber_birth_date: Mapped[date | None] = mapped_column(default=None)
    period_start: Mapped[date | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)
    copay_amount: Mapped[Decimal | None] = mapped_column(default=None)
    coinsurance_percent: Mapped[int | None] = mapped_column(default=None)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)  # eligibility check
    # Coverage.type as a full CodeableConcept (v3 ActCode / payer-type codes, or just
    # {"text": "private"} as Synthea sends): ``kind`` is coarser.
    type_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    payer: Mapped[Organization] = relationship(lazy="raise")
    prior_authorizations: Mapped[list[PriorAuthorization]] = relationship(
        lazy="raise", back_populates="coverage"
    )


class UnitType(enum.StrEnum):
    VISIT = "visit"
    SESSION = "session"
    DAY = "day"
    HOUR = "hour"
    UNIT_15_MIN = "unit_15_min"


class AuthorizationStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PriorAuthorization(PatientRecord, Base):
    """A payer's approval of a number of units of one service for a period.

    FHIR ClaimResponse with use = preauthorization (the request side is a Claim /
    ServiceRequest); ``reference_number`` is ClaimResponse.preAuthRef. Utilization review
    watches ``units_used`` against ``units_approved`` before the period ends.
    """

    __tablename__ = "prior_authorization"

    coverage_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coverage.id", ondelete="RESTRICT"), index=True
    )
    service: Mapped[Code] = coded("service")
    level_of_care: Mapped[LevelOfCare | None] = mapped_column(default=None)
    status: Mapped[AuthorizationStatus] = mapped_column(
        default=AuthorizationStatus.REQUESTED, index=True
    )
    units_requested: Mapped[int | None] = mapped_column(default=None)
    units_approved: Mapped[int | None] = mapped_column(default=None)
    units_used: Mapped[int] = mapped_column(default=0)
    unit_type: Mapped[UnitType] = mapped_column(default=UnitType.VISIT)
    period_start: Mapped[date | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None, index=True)
    reference_number: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    requested_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    denial_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)

    coverage: Mapped[Coverage] = relationship(lazy="raise", back_populates="prior_authorizations")


class ChargeStatus(enum.StrEnum):
    """FHIR ChargeItem.status."""

    PLANNED = "planned"
    BILLABLE = "billable"
    NOT_BILLABLE = "not_billable"
    ABORTED = "aborted"
    BILLED = "billed"
    ENTERED_IN_ERROR = "entered_in_error"


class ClaimStatus(enum.StrEnum):
    """Where the insurer claim carrying this line stands (FHIR ClaimResponse.outcome)."""

    NOT_SUBMITTED = "not_submitted"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DENIED = "denied"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"


class Charge(PatientRecord, Base):
    """One billed service line. FHIR ChargeItem (and a Claim.item when sent to a payer).

    ``code`` is the CPT or HCPCS procedure code; ``diagnosis_codes`` lists the ICD-10-CM
    codes the line is billed under (Claim.diagnosis, in pointer order).
    """

    __tablename__ = "charge"

    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounter.id", ondelete="SET NULL"), default=None, index=True
    )
    coverage_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coverage.id", ondelete="SET NULL"), default=None, index=True
    )
    prior_authorization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prior_authorization.id", ondelete="SET NULL"), default=None
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="SET NULL"), default=None, index=True
    )
    code: Mapped[Code] = coded("code")
    modifiers: Mapped[str | None] = mapped_column(String(16), default=None)  # "95,HF"
    units: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal]
    amount: Mapped[Decimal]
    status: Mapped[ChargeStatus] = mapped_column(default=ChargeStatus.BILLABLE, index=True)
    service_date: Mapped[date] = mapped_column(index=True)
    place_of_service: Mapped[str | None] = mapped_column(String(2), default=None)
    rendering_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    diagnosis_codes: Mapped[list[Any]] = mapped_column(default=list)
    claim_reference: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    claim_status: Mapped[ClaimStatus | None] = mapped_column(default=None)
    allowed_amount: Mapped[Decimal | None] = mapped_column(default=None)
    denial_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    # --- FHIR Claim.item / ExplanationOfBenefit.item round-trip ---------------------------
    # Claim.item.sequence: what EOB items and adjudications refer back to.
    claim_item_sequence: Mapped[int | None] = mapped_column(default=None)
    # productOrService as a full CodeableConcept when ``code`` is not all of it.
    code_concept: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Item elements with no column, as FHIR JSON: category, servicedPeriod (with times),
    # locationCodeableConcept, diagnosisSequence / procedureSequence / informationSequence,
    # modifier[] as codings, unitPrice / net when they carry more precision than NUMERIC(12,2).
    item_detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # ExplanationOfBenefit.item.adjudication[] as FHIR JSON ({category, reason, amount,
    # value}); ``allowed_amount`` and ``denial_reason`` are read from it for worklists.
    adjudication: Mapped[list[Any] | None] = mapped_column(default=None)

    invoice: Mapped[Invoice | None] = relationship(lazy="raise", back_populates="charges")


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    WRITTEN_OFF = "written_off"
    CANCELLED = "cancelled"


class Invoice(PatientRecord, Base):
    """A statement of charges. FHIR Invoice; its lines are the charges with this invoice_id.

    ``total`` = ``patient_responsibility`` + ``insurer_responsibility``; ``balance`` is what
    remains unpaid after payments and write-offs (kept denormalised: worklists sort by it).
    """

    __tablename__ = "invoice"
    __extra_table_args__ = (UniqueConstraint("number"),)

    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[InvoiceStatus] = mapped_column(default=InvoiceStatus.DRAFT, index=True)
    coverage_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("coverage.id", ondelete="SET NULL"), default=None, index=True
    )
    issued_on: Mapped[date | None] = mapped_column(default=None)
    due_on: Mapped[date | None] = mapped_column(default=None, index=True)
    period_start: Mapped[date | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    patient_responsibility: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    insurer_responsibility: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    written_off_amount: Mapped[Decimal | None] = mapped_column(default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    # --- FHIR Claim / ExplanationOfBenefit round-trip ------------------------------------
    # An invoice sent to a payer (``coverage_id`` set) is the FHIR Claim: its source id is
    # the Claim's, its lines are the charges. Claim elements with no column, as FHIR JSON:
    # type, subType, use, priority, created, billablePeriod (with times), provider,
    # insurer, insurance[], diagnosis[], procedure[], supportingInfo[], prescription,
    # careTeam[], identifier[], total (when it is not the sum of the lines).
    claim_detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # The payer's ExplanationOfBenefit for that claim, header only (its items' adjudication
    # is on each Charge): id, identifier[], status, outcome, disposition, created, insurer,
    # total[] ({category, amount}), payment, processNote[], contained Coverage/referral.
    eob_detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    charges: Mapped[list[Charge]] = relationship(lazy="raise", back_populates="invoice")
    payments: Mapped[list[Payment]] = relationship(lazy="raise", back_populates="invoice")


class PayerKind(enum.StrEnum):
    PATIENT = "patient"
    INSURER = "insurer"
    GUARANTOR = "guarantor"  # a parent or spouse paying on the patient's behalf
    OTHER = "other"


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    CASH = "cash"
    CHECK = "check"
    EFT = "eft"  # insurer remittance (835 ERA + EFT)
    ACH = "ach"
    HSA = "hsa"  # health savings / flexible spending card
    MONEY_ORDER = "money_order"
    OTHER = "other"


class PaymentStatus(enum.StrEnum):
    POSTED = "posted"
    REFUNDED = "refunded"
    REVERSED = "reversed"  # bounced check, charge-back
    ENTERED_IN_ERROR = "entered_in_error"


class Payment(PatientRecord, Base):
    """Money received for the patient's care. FHIR PaymentReconciliation (insurer
    remittance) or PaymentNotice (patient payment).

    ``invoice_id`` is nullable: copays are often taken at check-in before the visit's
    invoice exists and applied later.
    """

    __tablename__ = "payment"

    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoice.id", ondelete="RESTRICT"), default=None, index=True
    )
    payer_kind: Mapped[PayerKind]
    payer_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), default=None
    )
    method: Mapped[PaymentMethod]
    status: Mapped[PaymentStatus] = mapped_column(default=PaymentStatus.POSTED)
    amount: Mapped[Decimal]
    received_at: Mapped[datetime] = mapped_column(index=True)
    reference: Mapped[str | None] = mapped_column(String(64), default=None)  # check / EFT trace
    copay: Mapped[bool] = mapped_column(default=False)
    encounter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("encounter.id", ondelete="SET NULL"), default=None
    )
    posted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str | None] = mapped_column(String(500), default=None)

    invoice: Mapped[Invoice | None] = relationship(lazy="raise", back_populates="payments")
