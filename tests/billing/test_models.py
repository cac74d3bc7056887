"""Coverage, authorizations, charges, invoices and payments against real databases."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.billing.models import (
    HCPCS,
    AuthorizationStatus,
    Charge,
    ChargeStatus,
    ClaimStatus,
    Coverage,
    CoverageKind,
    Invoice,
    InvoiceStatus,
    PayerKind,
    Payment,
    PaymentMethod,
    PriorAuthorization,
    SubscriberRelationship,
    UnitType,
)
from backend.common.types import Code, CodeSystem
from backend.demo.context import DemoContext, JourneyStage, PatientSeed
from backend.organization.models import Organization, OrganizationKind
from tests.demo_world import clinic, insert_in_savepoint, new_sink, patient


def _world(session: Session) -> tuple[DemoContext, PatientSeed, Coverage]:
    sink = new_sink()
    ctx = clinic(sink)
    seed = patient(ctx, sink, 2, JourneyStage.IN_TREATMENT)
    sink.flush(session.connection())
    payer = Organization(name="Aetna", kind=OrganizationKind.PAYER)
    session.add(payer)
    session.flush()
    coverage = Coverage(
        patient_id=seed.id,
        payer_id=payer.id,
        kind=CoverageKind.INSURANCE,
        plan_name="Aetna Choice POS II",
        member_id="W123456789",
        group_id="0123456",
        subscriber_relationship=SubscriberRelationship.CHILD,
        subscriber_name="Linda Rivera",
        period_start=date(2025, 1, 1),
        copay_amount=Decimal("30.00"),
    )
    session.add(coverage)
    session.flush()
    return ctx, seed, coverage


def test_billing_chain_round_trips(session: Session) -> None:
    ctx, seed, coverage = _world(session)
    auth = PriorAuthorization(
        patient_id=seed.id,
        coverage_id=coverage.id,
        service=Code(HCPCS, "H0015", "Alcohol and/or drug services; intensive outpatient"),
        status=AuthorizationStatus.APPROVED,
        units_requested=20,
        units_approved=20,
        units_used=3,
        unit_type=UnitType.DAY,
        period_start=date(2025, 5, 1),
        period_end=date(2025, 6, 30),
        reference_number="PA1234567890",
    )
    invoice = Invoice(
        patient_id=seed.id,
        number="INV-T-1",
        status=InvoiceStatus.PARTIALLY_PAID,
        coverage_id=coverage.id,
        issued_on=date(2025, 5, 20),
        due_on=date(2025, 6, 19),
        total=Decimal("440.00"),
        patient_responsibility=Decimal("60.00"),
        insurer_responsibility=Decimal("380.00"),
        balance=Decimal("380.00"),
    )
    session.add_all([auth, invoice])
    session.flush()
    fees = (("90837", "190.00"), ("99214", "250.00"))
    for n, (code, fee) in enumerate(fees):
        session.add(
            Charge(
                patient_id=seed.id,
                coverage_id=coverage.id,
                invoice_id=invoice.id,
                code=Code(CodeSystem.CPT, code, None),
                unit_price=Decimal(fee),
                amount=Decimal(fee),
                status=ChargeStatus.BILLED,
                service_date=date(2025, 5, 5) + timedelta(days=n),
                diagnosis_codes=["F10.20"],
                claim_reference="CLM-1",
                claim_status=ClaimStatus.SUBMITTED,
            )
        )
    session.add(
        Payment(
            patient_id=seed.id,
            invoice_id=invoice.id,
            payer_kind=PayerKind.PATIENT,
            method=PaymentMethod.CARD,
            amount=Decimal("60.00"),
            received_at=ctx.now - timedelta(days=20),
            copay=True,
        )
    )
    session.flush()
    session.expunge_all()

    loaded = session.scalars(
        select(Invoice).options(selectinload(Invoice.charges), selectinload(Invoice.payments))
    ).one()
    assert sorted(str(c.code.code) for c in loaded.charges) == ["90837", "99214"]
    assert sum(c.amount for c in loaded.charges) == loaded.total == Decimal("440.00")
    assert loaded.total == loaded.patient_responsibility + loaded.insurer_responsibility
    assert [p.copay for p in loaded.payments] == [True]
    assert loaded.payments[0].amount == Decimal("60.00")
    assert loaded.charges[0].diagnosis_codes == ["F10.20"]
    cov = session.scalars(
        select(Coverage).options(
            selectinload(Coverage.prior_authorizations), selectinload(Coverage.payer)
        )
    ).one()
    assert cov.payer.kind is OrganizationKind.PAYER
    assert cov.copay_amount == Decimal("30.00")
    assert cov.subscriber_relationship is SubscriberRelationship.CHILD
    [pa] = cov.prior_authorizations
    assert pa.service == Code(HCPCS, "H0015", "Alcohol and/or drug services; intensive outpatient")
    assert (pa.units_approved or 0) - pa.units_used == 17
    raw = session.execute(text("SELECT status, unit_type FROM prior_authorization")).one()
    assert tuple(raw) == ("approved", "day")


def test_invoice_numbers_are_unique(session: Session) -> None:
    _, seed, _ = _world(session)
    session.add(Invoice(patient_id=seed.id, number="INV-DUP"))
    session.flush()
    with pytest.raises(IntegrityError):
        insert_in_savepoint(session, Invoice(patient_id=seed.id, number="INV-DUP"))


def test_charge_provenance_is_unique(session: Session) -> None:
    _, seed, _ = _world(session)

    def charge() -> Charge:
        return Charge(
            patient_id=seed.id,
            source_system="billing-system",
            source_id="LINE-9",
            code=Code(CodeSystem.CPT, "90834", None),
            unit_price=Decimal("140.00"),
            amount=Decimal("140.00"),
            service_date=date(2025, 5, 1),
        )

    session.add(charge())
    session.flush()
    with pytest.raises(IntegrityError):
        insert_in_savepoint(session, charge())


def test_charge_requires_an_existing_invoice(session: Session) -> None:
    _, seed, _ = _world(session)
    orphan = Charge(
        patient_id=seed.id,
        invoice_id=uuid.uuid4(),
        code=Code(CodeSystem.CPT, "90834", None),
        unit_price=Decimal("140.00"),
        amount=Decimal("140.00"),
        service_date=date(2025, 5, 1),
    )
    with pytest.raises(IntegrityError):
        insert_in_savepoint(session, orphan)
