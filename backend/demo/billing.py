"""Demo billing: payers, each patient's coverage, a prior authorization, a charge per
finished encounter, invoices grouping them and the payments received.

Facts left for later generators: ``billing.coverage_id`` (the primary coverage or None)
and ``billing.coverage_summary`` (payer key and name, member and group ids, subscriber
relationship and name) so the intake form's insurance answers match the coverage.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from backend.accounts.models import StaffRole
from backend.billing.models import (
    HCPCS,
    AuthorizationStatus,
    Charge,
    ChargeStatus,
    ClaimStatus,
    Coverage,
    CoverageKind,
    CoverageOrder,
    Invoice,
    InvoiceStatus,
    PayerKind,
    Payment,
    PaymentMethod,
    PriorAuthorization,
    SubscriberRelationship,
    UnitType,
)
from backend.common.types import CodeSystem, LevelOfCare, Sensitivity
from backend.demo.context import DemoContext, PatientSeed, at, new_id
from backend.demo.sink import RowSink
from backend.organization.models import Organization, OrganizationKind

CENT = Decimal("0.01")
# key -> (name, coverage kind, plan names, phone)
PAYERS: dict[str, tuple[str, CoverageKind, tuple[str, ...], str]] = {
    "aetna": ("Aetna", CoverageKind.INSURANCE, ("Aetna Choice POS II", "Aetna Open Access"),
              "+18008723862"),
    "bcbs": ("Blue Cross Blue Shield of Massachusetts", CoverageKind.INSURANCE,
             ("Blue Care Elect PPO", "HMO Blue New England"), "+18002622583"),
    "cigna": ("Cigna", CoverageKind.INSURANCE, ("Cigna Open Access Plus",), "+18002446224"),
    "uhc": ("UnitedHealthcare", CoverageKind.INSURANCE,
            ("UnitedHealthcare Choice Plus", "UHC Navigate HMO"), "+18776107734"),
    "medicaid": ("MassHealth (Medicaid)", CoverageKind.MEDICAID,
                 ("MassHealth Standard", "MassHealth CarePlus"), "+18008410800"),
    "medicare": ("Medicare", CoverageKind.MEDICARE, ("Medicare Part B",), "+18006334227"),
    "self_pay": ("Self-pay", CoverageKind.SELF_PAY, ("Self-pay (sliding scale)",), ""),
}  # fmt: skip
UNDER_65 = {"bcbs": 26, "aetna": 12, "cigna": 10, "uhc": 14, "medicaid": 28, "self_pay": 10}
# service type -> (system, code, display, fee)
CPT_CODES: dict[str, tuple[str, str, str, str]] = {
    "intake": (CodeSystem.CPT, "90791", "Psychiatric diagnostic evaluation", "250.00"),
    "assessment": (CodeSystem.CPT, "90791", "Psychiatric diagnostic evaluation", "250.00"),
    "psychiatry": (CodeSystem.CPT, "90792",
                   "Psychiatric diagnostic evaluation with medical services", "320.00"),
    "therapy_individual": (CodeSystem.CPT, "90837", "Psychotherapy, 60 minutes with patient",
                           "190.00"),
    "therapy_group": (CodeSystem.CPT, "90853",
                      "Group psychotherapy (other than of a multiple-family group)", "75.00"),
    "therapy_family": (CodeSystem.CPT, "90847",
                       "Family psychotherapy (conjoint psychotherapy) (with patient present), "
                       "50 minutes", "175.00"),
    "medication_management": (CodeSystem.CPT, "99214",
                              "Office or other outpatient visit for the evaluation and "
                              "management of an established patient, moderate MDM", "180.00"),
    "nursing": (CodeSystem.CPT, "96372", "Therapeutic, prophylactic, or diagnostic injection; "
                "subcutaneous or intramuscular", "45.00"),
    "case_management": (HCPCS, "T1016", "Case management, each 15 minutes", "32.00"),
    "peer_support": (HCPCS, "H0038", "Self-help/peer services, per 15 minutes", "25.00"),
}  # fmt: skip
PSYCHOTHERAPY_45 = (CodeSystem.CPT, "90834", "Psychotherapy, 45 minutes with patient", "140.00")
IOP_DAY = (
    HCPCS,
    "H0015",
    "Alcohol and/or drug services; intensive outpatient (treatment program that operates at "
    "least 3 hours/day and at least 3 days/week)",
    "275.00",
)
ALLOWED = ("0.62", "0.70", "0.78")  # contracted rates as a share of the fee
PATIENT_METHODS = (
    PaymentMethod.CARD,
    PaymentMethod.CARD,
    PaymentMethod.CASH,
    PaymentMethod.CHECK,
    PaymentMethod.HSA,
)
DENIALS = (
    "CO-197 Precertification/authorization absent",
    "CO-50 Not deemed a medical necessity by the payer",
    "CO-16 Claim lacks information needed for adjudication",
)


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """The payer organizations every coverage points at."""
    ids: dict[str, uuid.UUID] = {}
    for key, (name, _, _, phone) in PAYERS.items():
        ids[key] = sink.add(
            Organization, name=name, kind=OrganizationKind.PAYER, phone=phone or None
        )
    ctx.shared["billing.payers"] = ids


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, "billing")
    encounters: list[tuple[uuid.UUID, datetime, uuid.UUID]] = list(
        patient.facts.get("scheduling.encounters") or []
    )
    patient.facts["billing.coverage_id"] = None
    patient.facts["billing.coverage_summary"] = None
    if patient.admitted_at is None and not encounters and rng.random() < 0.5:
        return  # an inquiry whose insurance was never taken
    payer_key, coverage_id, copay, coinsurance = _coverage(ctx, patient, rng, sink)
    reason = patient.facts.get("scheduling.primary_reason") or ("F41.1", "", "anxiety", False)
    sensitivity = Sensitivity.PART2 if reason[3] else Sensitivity.NONE
    level = patient.facts.get("scheduling.level_of_care") or LevelOfCare.OUTPATIENT.value
    services: dict[uuid.UUID, tuple[str, str, int, str]] = (
        patient.facts.get("scheduling.encounter_services") or {}
    )
    default = ("therapy_individual", "in_person", 53, level)
    visits = [(e, services.get(e[0], default)) for e in encounters]
    procedures = [
        _procedure(service, minutes, enc_level) for _, (service, _, minutes, enc_level) in visits
    ]
    auth = None
    if patient.admitted_at and payer_key != "self_pay":
        codes = [p[1] for p in procedures]
        auth = _prior_auth(ctx, patient, rng, sink, coverage_id, level, codes)
    biller = ctx.team_member(patient, StaffRole.BILLING, rng)
    lines: list[dict[str, Any]] = []
    for ((encounter_id, start, provider), (_, mode, minutes, _)), procedure in zip(
        visits, procedures, strict=True
    ):
        system, code, display, fee = procedure
        units = max(1, minutes // 15) if code in {"T1016", "H0038"} else 1
        amount = Decimal(fee) * units
        recent = start > ctx.now - timedelta(days=14)
        insured = payer_key != "self_pay"
        denied = not recent and insured and rng.random() < 0.05
        claim_status = None
        allowed = None
        if insured and not recent:
            claim_status = ClaimStatus.DENIED if denied else ClaimStatus.PAID
            if not denied:
                allowed = (amount * Decimal(rng.choice(ALLOWED))).quantize(CENT)
        lines.append(
            {
                "id": new_id(rng),
                "patient_id": patient.id,
                "effective_at": start,
                "author_id": biller,
                "sensitivity": sensitivity,
                "encounter_id": encounter_id,
                "coverage_id": coverage_id,
                "prior_authorization_id": auth[0] if auth and auth[1] == code else None,
                "code_system": system,
                "code_code": code,
                "code_display": display,
                "modifiers": {"video": "95", "phone": "93"}.get(mode),
                "units": units,
                "unit_price": Decimal(fee),
                "amount": amount,
                "status": ChargeStatus.BILLABLE if recent else ChargeStatus.BILLED,
                "service_date": start.date(),
                "place_of_service": "11" if mode == "in_person" else "10",
                "rendering_provider_id": provider,
                "diagnosis_codes": [reason[0]],
                "claim_status": claim_status,
                "allowed_amount": allowed,
                "denial_reason": rng.choice(DENIALS) if denied else None,
            }
        )
    billed = [line for line in lines if line["status"] is ChargeStatus.BILLED]
    half = len(billed) // 2
    groups = [billed[:half], billed[half:]] if len(billed) > 8 else [billed] if billed else []
    for n, group in enumerate(groups, start=1):
        invoice_id = new_id(rng)
        claim = f"CLM-{patient.index + 1:07d}-{n:02d}"
        for line in group:
            line["invoice_id"] = invoice_id
            line["claim_reference"] = claim if line["claim_status"] else None
        sink_invoice = _Statement(ctx, patient, rng, payer_key, copay, coinsurance)
        sink_invoice.write(sink, invoice_id, n, coverage_id, group)
    for line in lines:
        sink.add(Charge, **line)


def _procedure(service: str, minutes: int, level: str) -> tuple[str, str, str, str]:
    """(system, code, display, fee) billed for one visit."""
    if service == "therapy_individual" and minutes < 53:
        return PSYCHOTHERAPY_45
    if service == "therapy_group" and level == LevelOfCare.INTENSIVE_OUTPATIENT:
        return IOP_DAY
    return CPT_CODES.get(service, PSYCHOTHERAPY_45)


def _coverage(
    ctx: DemoContext, patient: PatientSeed, rng: random.Random, sink: RowSink
) -> tuple[str, uuid.UUID, Decimal | None, int | None]:
    payers: dict[str, uuid.UUID] = ctx.shared["billing.payers"]
    if patient.age >= 65:
        key = "medicare" if rng.random() < 0.85 else "bcbs"
    else:
        key = rng.choices(list(UNDER_65), weights=list(UNDER_65.values()))[0]
    name, kind, plans, _ = PAYERS[key]
    relationship = SubscriberRelationship.SELF
    subscriber = f"{patient.given_name} {patient.family_name}"
    subscriber_born = patient.birth_date
    if kind is CoverageKind.INSURANCE:
        roll = rng.random()
        if patient.age < 26 and roll < 0.6:
            relationship = SubscriberRelationship.CHILD
            subscriber = f"{rng.choice(_PARENTS)} {patient.family_name}"
            subscriber_born = patient.birth_date - timedelta(days=365 * rng.randint(24, 36))
        elif roll < 0.2:
            relationship = SubscriberRelationship.SPOUSE
            subscriber = f"{rng.choice(_PARENTS)} {patient.family_name}"
            subscriber_born = patient.birth_date + timedelta(days=rng.randint(-2500, 2500))
    copay = coinsurance = None
    if kind is CoverageKind.INSURANCE:
        copay = Decimal(rng.choice(("20.00", "25.00", "30.00", "40.00", "50.00")))
        coinsurance = rng.choice((0, 0, 10, 20))
    elif kind is CoverageKind.MEDICARE:
        coinsurance = 20
    first = patient.first_contact_at
    start = date(first.year - rng.randint(0, 4), 1, 1)
    member_id = None if kind is CoverageKind.SELF_PAY else _member_id(key, rng)
    summary = {
        "payer": key,
        "payer_name": name,
        "member_id": member_id,
        "group_id": None,
        "subscriber_relationship": relationship.value,
        "subscriber_name": subscriber,
        "subscriber_birth_date": subscriber_born.isoformat(),
    }
    if kind is CoverageKind.INSURANCE:
        summary["group_id"] = f"{rng.randrange(100000, 9999999):07d}"
    coverage_id = sink.add(
        Coverage,
        patient_id=patient.id,
        effective_at=first,
        payer_id=payers[key],
        kind=kind,
        coverage_order=CoverageOrder.PRIMARY,
        plan_name=rng.choice(plans),
        member_id=member_id,
        group_id=summary["group_id"],
        subscriber_relationship=relationship,
        subscriber_name=subscriber,
        subscriber_birth_date=subscriber_born,
        period_start=start,
        copay_amount=copay,
        coinsurance_percent=coinsurance,
        verified_at=None if kind is CoverageKind.SELF_PAY else first + timedelta(hours=3),
    )
    if key == "medicare" and rng.random() < 0.3:  # dual eligible: MassHealth pays second
        sink.add(
            Coverage,
            patient_id=patient.id,
            effective_at=first,
            payer_id=payers["medicaid"],
            kind=CoverageKind.MEDICAID,
            coverage_order=CoverageOrder.SECONDARY,
            plan_name="MassHealth Standard",
            member_id=_member_id("medicaid", rng),
            subscriber_name=f"{patient.given_name} {patient.family_name}",
            subscriber_birth_date=patient.birth_date,
            period_start=start,
            verified_at=first + timedelta(hours=3),
        )
    patient.facts["billing.coverage_id"] = coverage_id
    patient.facts["billing.coverage_summary"] = summary
    return key, coverage_id, copay, coinsurance


_PARENTS = ("Linda", "Robert", "Maria", "James", "Susan", "Michael", "Patricia", "David")
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"


def _member_id(key: str, rng: random.Random) -> str:
    digits = string.digits
    if key == "medicare":  # Medicare Beneficiary Identifier: CMS's 11-place format
        pattern = "CAXNAXNAANN"
        pools = {"C": digits[1:], "N": digits, "A": _MBI_LETTERS, "X": _MBI_LETTERS + digits}
        return "".join(rng.choice(pools[p]) for p in pattern)
    if key == "medicaid":
        return "".join(rng.choice(digits) for _ in range(12))
    prefix = {"aetna": "W", "cigna": "U", "uhc": "", "bcbs": "XJ"}.get(key, "")
    return prefix + "".join(rng.choice(digits) for _ in range(9))


def _prior_auth(
    ctx: DemoContext,
    patient: PatientSeed,
    rng: random.Random,
    sink: RowSink,
    coverage_id: uuid.UUID,
    level: str,
    billed_codes: list[str],
) -> tuple[uuid.UUID, str] | None:
    iop = level == LevelOfCare.INTENSIVE_OUTPATIENT
    if not iop and rng.random() < 0.55:
        return None  # routine outpatient therapy needs no authorization with most plans
    admitted = patient.admitted_at or patient.first_contact_at
    system, code, display, _ = IOP_DAY if iop else CPT_CODES["therapy_individual"]
    requested_units = 20 if iop else 12
    status = AuthorizationStatus.APPROVED
    approved: int | None = requested_units
    roll = rng.random()
    if roll < 0.05:
        status, approved = AuthorizationStatus.DENIED, 0
    elif roll < 0.15:
        status, approved = AuthorizationStatus.PARTIALLY_APPROVED, requested_units // 2
    period_start = admitted.date()
    period_end = period_start + timedelta(days=60 if iop else 90)
    if status is not AuthorizationStatus.DENIED and period_end < ctx.today:
        status = AuthorizationStatus.EXPIRED
    requested_at = max(patient.first_contact_at, admitted - timedelta(days=rng.randint(1, 3)))
    auth_id = sink.add(
        PriorAuthorization,
        patient_id=patient.id,
        effective_at=requested_at,
        sensitivity=Sensitivity.PART2 if iop else Sensitivity.NONE,
        coverage_id=coverage_id,
        service_system=system,
        service_code=code,
        service_display=display,
        level_of_care=LevelOfCare(level),
        status=status,
        units_requested=requested_units,
        units_approved=approved,
        units_used=min(approved or 0, billed_codes.count(code)),
        unit_type=UnitType.DAY if iop else UnitType.SESSION,
        period_start=period_start,
        period_end=period_end,
        reference_number=f"PA{rng.randrange(10**9, 10**10)}",
        requested_at=requested_at,
        decided_at=min(requested_at + timedelta(days=rng.randint(1, 3)), ctx.now),
        requested_by_id=ctx.team_member(patient, StaffRole.BILLING, rng),
        denial_reason=DENIALS[1] if status is AuthorizationStatus.DENIED else None,
    )
    return auth_id, code


class _Statement:
    """One invoice and the payments applied to it."""

    def __init__(
        self,
        ctx: DemoContext,
        patient: PatientSeed,
        rng: random.Random,
        payer_key: str,
        copay: Decimal | None,
        coinsurance: int | None,
    ) -> None:
        self.ctx, self.patient, self.rng = ctx, patient, rng
        self.payer_key, self.copay, self.coinsurance = payer_key, copay, coinsurance

    def write(
        self,
        sink: RowSink,
        invoice_id: uuid.UUID,
        number: int,
        coverage_id: uuid.UUID,
        group: list[dict[str, Any]],
    ) -> None:
        ctx, rng, patient = self.ctx, self.rng, self.patient
        total = sum((line["amount"] for line in group), Decimal("0.00"))
        patient_part = self.patient_share(total, len(group))
        insurer_part = total - patient_part
        last_service: date = group[-1]["service_date"]
        issued: date | None = last_service + timedelta(days=rng.randint(7, 21))
        if issued and issued > ctx.today:
            issued = None
        payments = self.payments(issued, insurer_part, patient_part, group)
        paid = sum((p["amount"] for p in payments), Decimal("0.00"))
        biller = ctx.team_member(patient, StaffRole.BILLING, rng)
        for payment in payments:
            sink.add(
                Payment,
                patient_id=patient.id,
                effective_at=payment["received_at"],
                invoice_id=invoice_id,
                posted_by_id=biller,
                **payment,
            )
        balance = total - paid
        written_off = None
        if issued is None:
            status = InvoiceStatus.DRAFT
        elif balance <= 0:
            status, balance = InvoiceStatus.PAID, Decimal("0.00")
        elif self.payer_key == "self_pay" and not paid and issued < ctx.today - timedelta(180):
            status, written_off, balance = InvoiceStatus.WRITTEN_OFF, balance, Decimal("0.00")
        else:
            status = InvoiceStatus.PARTIALLY_PAID if paid else InvoiceStatus.ISSUED
        sink.add(
            Invoice,
            id=invoice_id,
            patient_id=patient.id,
            effective_at=datetime.combine(issued or last_service, time(9), UTC),
            author_id=biller,
            number=f"INV-{patient.index + 1:07d}-{number:02d}",
            status=status,
            coverage_id=coverage_id,
            issued_on=issued,
            due_on=issued + timedelta(days=30) if issued else None,
            period_start=group[0]["service_date"],
            period_end=last_service,
            total=total,
            patient_responsibility=patient_part,
            insurer_responsibility=insurer_part,
            balance=balance,
            written_off_amount=written_off,
        )

    def patient_share(self, total: Decimal, visits: int) -> Decimal:
        if self.payer_key == "self_pay":
            return total
        share = (self.copay or Decimal(0)) * visits
        share += (total * Decimal(self.coinsurance or 0) / 100).quantize(CENT)
        return min(share, total)

    def payments(
        self,
        issued: date | None,
        insurer_part: Decimal,
        patient_part: Decimal,
        group: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        ctx, rng = self.ctx, self.rng
        payments: list[dict[str, Any]] = []
        if issued and insurer_part and issued <= ctx.today - timedelta(days=25):
            payments.append(
                {
                    "payer_kind": PayerKind.INSURER,
                    "payer_organization_id": ctx.shared["billing.payers"][self.payer_key],
                    "method": PaymentMethod.EFT,
                    "amount": insurer_part,
                    "received_at": at(issued + timedelta(days=rng.randint(10, 24)), rng),
                    "reference": f"EFT{rng.randrange(10**11, 10**12)}",
                }
            )
        if self.copay and self.payer_key != "self_pay":
            last = group[-1]
            payments.append(
                {
                    "payer_kind": PayerKind.PATIENT,
                    "copay": True,
                    "method": rng.choice(PATIENT_METHODS[:3]),
                    "amount": min(self.copay * len(group), patient_part),
                    "received_at": last["effective_at"],
                    "encounter_id": last["encounter_id"],
                    "note": f"Copays for {len(group)} visit(s), collected at check-in",
                }
            )
        elif issued and patient_part and rng.random() < 0.7:
            share = Decimal(1) if rng.random() < 0.75 else Decimal("0.5")
            received = at(issued + timedelta(days=rng.randint(5, 40)), rng)
            if received <= ctx.now:
                payments.append(
                    {
                        "payer_kind": PayerKind.PATIENT,
                        "method": rng.choice(PATIENT_METHODS),
                        "amount": (patient_part * share).quantize(CENT),
                        "received_at": received,
                        "reference": f"TXN{rng.randrange(10**8, 10**9)}",
                    }
                )
        return payments
