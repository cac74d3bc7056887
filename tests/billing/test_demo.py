"""The billing demo generator: money adds up and rows insert cleanly."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.billing.models import (
    Charge,
    ChargeStatus,
    Coverage,
    CoverageOrder,
    Invoice,
    InvoiceStatus,
    Payment,
    PriorAuthorization,
)
from backend.demo import billing, forms, scheduling
from backend.demo.context import JourneyStage
from backend.organization.models import Organization, OrganizationKind
from backend.scheduling.models import Encounter
from tests.demo_world import seeded


def test_generated_billing_adds_up(session: Session) -> None:
    ctx, seeds, counts = seeded(session, (scheduling, billing, forms), count=40)
    payers = session.scalars(
        select(Organization.name).where(Organization.kind == OrganizationKind.PAYER)
    ).all()
    assert {"Aetna", "Cigna", "UnitedHealthcare", "Medicare", "Self-pay"} <= set(payers)

    coverages = {c.id: c for c in session.scalars(select(Coverage))}
    for seed in seeds:
        coverage_id = seed.facts["billing.coverage_id"]
        if seed.stage is not JourneyStage.INQUIRY:
            assert coverage_id in coverages
        if coverage_id is not None:
            assert coverages[coverage_id].patient_id == seed.id
            assert coverages[coverage_id].coverage_order is CoverageOrder.PRIMARY

    # One charge per finished encounter, linked to it.
    encounter_ids = set(session.scalars(select(Encounter.id)))
    charges = session.scalars(select(Charge)).all()
    assert {c.encounter_id for c in charges} <= encounter_ids
    assert len(charges) == sum(len(s.facts["scheduling.encounters"]) for s in seeds)

    lines: dict[object, list[Charge]] = defaultdict(list)
    for charge in charges:
        assert charge.amount == charge.unit_price * charge.units
        if charge.status is ChargeStatus.BILLED:
            assert charge.invoice_id is not None
        else:
            assert charge.invoice_id is None
        if charge.invoice_id:
            lines[charge.invoice_id].append(charge)
    paid: dict[object, Decimal] = defaultdict(Decimal)
    for payment in session.scalars(select(Payment)):
        assert payment.received_at <= ctx.now
        assert payment.amount > 0
        if payment.invoice_id:
            paid[payment.invoice_id] += payment.amount
    invoices = session.scalars(select(Invoice)).all()
    assert invoices
    for invoice in invoices:
        assert invoice.total == sum(c.amount for c in lines[invoice.id])
        assert invoice.total == invoice.patient_responsibility + invoice.insurer_responsibility
        written_off = invoice.written_off_amount or Decimal(0)
        assert invoice.balance == invoice.total - paid[invoice.id] - written_off
        if invoice.status is InvoiceStatus.PAID:
            assert invoice.balance == 0
        if invoice.status is InvoiceStatus.DRAFT:
            assert invoice.issued_on is None
    for auth in session.scalars(select(PriorAuthorization)):
        assert 0 <= auth.units_used <= (auth.units_approved or 0)
    # Budget: billing stays near six rows per treated patient.
    treated = sum(seed.stage is not JourneyStage.INQUIRY for seed in seeds)
    billing_rows = sum(
        counts[t] for t in ("coverage", "prior_authorization", "charge", "invoice", "payment")
    )
    assert billing_rows / treated < 11
