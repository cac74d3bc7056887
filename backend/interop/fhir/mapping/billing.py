"""Coverage, Claim (Invoice header + Charge lines) and ExplanationOfBenefit.

A Claim is an :class:`Invoice` billed to a payer (``source_id`` the Claim id), its items
are :class:`Charge` rows; the EOB adds its header to the same invoice (``eob_detail``),
its item adjudication to the matching charges, and its contained Coverage becomes a real
Coverage row with the payer as an Organization (see docs/data-model.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

from backend.billing.models import (
    Charge,
    ChargeStatus,
    ClaimStatus,
    Coverage,
    CoverageKind,
    CoverageOrder,
    CoverageStatus,
    Invoice,
    InvoiceStatus,
    SubscriberRelationship,
)
from backend.interop.fhir.mapping.base import (
    MapContext,
    MappingError,
    Row,
    Unresolved,
    code_columns,
    concept_beyond,
    enum_of,
    first_coding,
    money,
    parse_date,
    parse_datetime,
    period,
)
from backend.interop.fhir.mapping.common import patient_columns, sensitivity_of
from backend.organization.models import Organization, OrganizationKind

CLAIM_HEADER: tuple[str, ...] = ("type", "use", "priority", "created", "billablePeriod")
CLAIM_HEADER += ("insurance", "diagnosis", "procedure", "supportingInfo", "prescription")
CLAIM_HEADER += ("total", "status")
COVERAGE_STATUS = {"cancelled": CoverageStatus.CANCELLED}


def invoice_number(source_system: str, claim_id: str) -> str:
    """Our invoice number for an imported claim: stable, short, unique per source."""
    return "C" + hashlib.sha256(f"{source_system}|{claim_id}".encode()).hexdigest()[:24].upper()


def _payer(ctx: MapContext, reference: Any, display: str | None) -> tuple[Any, list[Row]]:
    """The payer Organization: referenced, else one per payer name (Synthea's 'private')."""
    found = ctx.optional(reference, "payor", "Organization")
    if found is not None:
        return found, []
    name = (display or "Unknown payer")[:200]
    key = f"payer/{name.lower()}"
    payer_id = ctx.ids.get(("Organization", key)) or ctx.lookup("Organization", key)
    if payer_id is None:
        payer_id = ctx.new_id("Organization", key)
    row = Row(Organization, ctx.source_system, key, {"name": name, "kind": OrganizationKind.PAYER})
    return payer_id, [row]


def map_coverage(res: dict[str, Any], ctx: MapContext, key: str | None = None) -> list[Row]:
    values = patient_columns({"subject": res.get("beneficiary"), **res}, ctx, "Coverage")
    payor = (res.get("payor") or [None])[0] or {}
    payer_id, rows = _payer(ctx, payor, payor.get("display"))
    start, end = period(res.get("period"), "Coverage.period")
    type_code = first_coding(res.get("type"))
    kind = CoverageKind.INSURANCE
    if type_code and (type_code.code or type_code.display or "").lower() in (
        "medicaid",
        "medicare",
    ):
        kind = CoverageKind((type_code.code or type_code.display or "").lower())
    relationship = first_coding(res.get("relationship"))
    values.update(
        payer_id=payer_id,
        kind=kind,
        type_concept=res.get("type"),
        status=enum_of(CoverageStatus, res.get("status"), "Coverage.status", COVERAGE_STATUS),
        member_id=(res.get("subscriberId") or "")[:64] or None,
        period_start=start.date() if start else None,
        period_end=end.date() if end else None,
        effective_at=start,
        subscriber_relationship=enum_of(
            SubscriberRelationship,
            (relationship.code if relationship and relationship.code else "self"),
            "Coverage.relationship",
        ),
    )
    if res.get("order"):
        values["coverage_order"] = list(CoverageOrder)[min(int(res["order"]), 3) - 1]
    rows.append(Row(Coverage, ctx.source_system, key or res["id"], values))
    return rows


def map_claim(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Claim")
    sid = res["id"]
    invoice_id = ctx.ids[("Claim", sid)]
    start, end = period(res.get("billablePeriod"), "Claim.billablePeriod")
    created = parse_datetime(res.get("created"), "Claim.created")
    total = money(res.get("total"))
    values.update(
        number=invoice_number(ctx.source_system, sid),
        status=InvoiceStatus.CANCELLED
        if res.get("status") == "cancelled"
        else InvoiceStatus.ISSUED,
        issued_on=created.date() if created else None,
        period_start=start.date() if start else None,
        period_end=end.date() if end else None,
        effective_at=created or start,
        currency=((res.get("total") or {}).get("currency") or "USD")[:3],
        total=total,
        balance=total,
        claim_detail={k: res[k] for k in CLAIM_HEADER if k in res},
    )
    rows = [Row(Invoice, ctx.source_system, sid, values)]
    diagnoses = {d.get("sequence"): d for d in res.get("diagnosis", []) if isinstance(d, dict)}
    for i, item in enumerate(res.get("item", [])):
        path = f"Claim.item[{i}]"
        seq = item.get("sequence", i + 1)
        encounter = (item.get("encounter") or [None])[0]
        net = item.get("net")
        served = parse_date(
            item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start"),
            f"{path}.serviced",
        ) or (start.date() if start else None)
        if served is None:
            raise MappingError(f"{path}.servicedDate", "a claim line needs a service date")
        codes = []
        for pointer in item.get("diagnosisSequence", []):
            dx = diagnoses.get(pointer) or {}
            target = ctx.resolve(dx.get("diagnosisReference"), f"{path}.diagnosisSequence")
            codes.append(target.source_id if target else str(pointer))
        detail = {
            k: item[k]
            for k in (
                "category",
                "servicedPeriod",
                "locationCodeableConcept",
                "diagnosisSequence",
                "procedureSequence",
                "informationSequence",
                "careTeamSequence",
            )
            if k in item
        }
        line = {
            "patient_id": values["patient_id"],
            "sensitivity": values["sensitivity"],
            "invoice_id": invoice_id,
            "encounter_id": ctx.optional(encounter, f"{path}.encounter", "Encounter"),
            **code_columns(
                "code", item.get("productOrService"), f"{path}.productOrService", required=True
            ),
            "code_concept": concept_beyond(item.get("productOrService")),
            "units": int((item.get("quantity") or {}).get("value") or 1),
            "unit_price": money(item.get("unitPrice") or net),
            "amount": money(net),
            "status": ChargeStatus.BILLED,
            "service_date": served,
            "effective_at": parse_datetime(str(served), f"{path}.serviced"),
            "diagnosis_codes": codes,
            "claim_item_sequence": seq,
            "claim_status": ClaimStatus.SUBMITTED,
            "item_detail": detail or None,
        }
        rows.append(Row(Charge, ctx.source_system, f"{sid}/item/{seq}", line))
    return rows


def map_eob(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    target = ctx.resolve(res.get("claim"), "ExplanationOfBenefit.claim")
    if target is None or target.resource_type != "Claim":
        raise Unresolved("ExplanationOfBenefit.claim")
    patient_columns(res, ctx, "ExplanationOfBenefit")  # the patient must resolve too
    rows: list[Row] = []
    contained = {c.get("id"): c for c in res.get("contained", []) if isinstance(c, dict)}
    coverage_id = None
    for i, ins in enumerate(res.get("insurance", [])):
        ref = (ins.get("coverage") or {}).get("reference") or ""
        if ref.startswith("#") and contained.get(ref[1:], {}).get("resourceType") == "Coverage":
            key = f"{res['id']}/coverage"
            coverage = dict(contained[ref[1:]])
            coverage.setdefault("meta", res.get("meta"))
            coverage_id = ctx.ids.get(("Coverage", key)) or ctx.lookup("Coverage", key)
            coverage_id = coverage_id or ctx.new_id("Coverage", key)
            rows += map_coverage(coverage, ctx, key=key)
        elif coverage_id is None:
            coverage_id = ctx.optional(ins.get("coverage"), f"ExplanationOfBenefit.insurance[{i}]")
    payment = money((res.get("payment") or {}).get("amount"))
    totals = {}
    for total in res.get("total", []):
        category = first_coding(total.get("category"))
        if category and category.code:
            totals[category.code] = money(total.get("amount"))
    header = {k: v for k, v in res.items() if k not in ("item", "text", "meta")}
    update: dict[str, Any] = {"eob_detail": header, "sensitivity": sensitivity_of(res)}
    if coverage_id is not None:
        update["coverage_id"] = coverage_id
    if payment or "benefit" in totals:
        update["insurer_responsibility"] = payment or totals.get("benefit")
    # The invoice first: it is the row the EOB's outcome is reported on.
    rows.insert(0, Row(Invoice, ctx.source_system, target.source_id, update, partial=True))
    for item in res.get("item", []):
        if item.get("adjudication"):
            rows.append(
                Row(
                    Charge,
                    ctx.source_system,
                    f"{target.source_id}/item/{item.get('sequence')}",
                    {"adjudication": item["adjudication"]},
                    partial=True,
                )
            )
    return rows
