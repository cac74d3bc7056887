"""Condition, Observation, DiagnosticReport, Procedure, Immunization, medications,
AllergyIntolerance, ImagingStudy and DocumentReference."""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any

from backend.clinical.models import (
    Allergy,
    AllergyCategory,
    AllergyClinicalStatus,
    AllergyCriticality,
    AllergyType,
    AllergyVerificationStatus,
    ClinicalNote,
    Condition,
    ConditionCategory,
    ConditionClinicalStatus,
    ConditionVerificationStatus,
    DiagnosticReport,
    ImagingStudy,
    ImagingStudyStatus,
    Immunization,
    ImmunizationStatus,
    Interpretation,
    Medication,
    MedicationIntent,
    MedicationStatus,
    NoteKind,
    NoteStatus,
    Observation,
    ObservationCategory,
    ObservationStatus,
    Procedure,
    ProcedureStatus,
    ReportCategory,
    ReportStatus,
    Severity,
)
from backend.interop.fhir.mapping.base import (
    MapContext,
    MappingError,
    Row,
    code_columns,
    concept_beyond,
    display_of,
    enum_of,
    first_coding,
    notes_text,
    optional_enum,
    parse_date,
    parse_datetime,
    parse_decimal,
    period,
    status_code,
    text_of,
)
from backend.interop.fhir.mapping.common import patient_columns

OBSERVATION_CATEGORIES = {c.value.replace("_", "-"): c for c in ObservationCategory}


def _onset(res: dict[str, Any], prefix: str, path: str) -> dict[str, Any]:
    at = parse_datetime(res.get(f"{prefix}DateTime"), f"{path}.{prefix}DateTime")
    text = res.get(f"{prefix}String")
    if at is None and isinstance(res.get(f"{prefix}Period"), dict):
        at = parse_datetime(res[f"{prefix}Period"].get("start"), f"{path}.{prefix}Period.start")
    return {"at": at, "date": at.date() if at else None, "text": text_of(text, 100)}


def map_condition(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Condition")
    onset = _onset(res, "onset", "Condition")
    abatement = _onset(res, "abatement", "Condition")
    category = first_coding((res.get("category") or [None])[0])
    codings = (res.get("code") or {}).get("coding") or []
    recorded = parse_datetime(res.get("recordedDate"), "Condition.recordedDate")
    values.update(
        **code_columns("code", res.get("code"), "Condition.code", required=True),
        code_concept=concept_beyond(res.get("code")),
        clinical_status=enum_of(
            ConditionClinicalStatus,
            status_code(res.get("clinicalStatus")) or "active",
            "Condition.clinicalStatus",
        ),
        verification_status=enum_of(
            ConditionVerificationStatus,
            status_code(res.get("verificationStatus")) or "confirmed",
            "Condition.verificationStatus",
        ),
        category=enum_of(
            ConditionCategory,
            category.code if category and category.code else "problem-list-item",
            "Condition.category",
        ),
        severity=_severity(res.get("severity"), "Condition.severity"),
        effective_at=recorded or onset["at"],
        onset_at=onset["at"],
        onset_date=onset["date"],
        onset_text=onset["text"],
        abatement_at=abatement["at"],
        abatement_date=abatement["date"],
        abatement_text=abatement["text"],
        note=notes_text(res.get("note")),
        asserter_id=ctx.optional(res.get("asserter"), "Condition.asserter", "Practitioner"),
    )
    if len(codings) > 1:
        second = codings[1]
        values.update(
            alt_code_system=second.get("system"),
            alt_code_code=second.get("code"),
            alt_code_display=second.get("display"),
        )
    return [Row(Condition, ctx.source_system, res["id"], values)]


def _severity(concept: Any, path: str) -> Severity | None:
    code = first_coding(concept)
    if code is None:
        return None
    word = (code.display or code.code or "").lower()
    for level in Severity:
        if level.value in word:
            return level
    return None


def _quantity(values: dict[str, Any], quantity: dict[str, Any], path: str) -> None:
    raw = quantity.get("value")
    number = parse_decimal(raw, f"{path}.value")
    if number is not None:
        rounded = number.quantize(Decimal("0.0001"))
        values["value_quantity"] = rounded
        if rounded != number:
            values["value_precise"] = str(raw)[:40]
    values["value_unit"] = (quantity.get("code") or quantity.get("unit") or "")[:32] or None


def _component(comp: dict[str, Any]) -> dict[str, Any]:
    code = first_coding(comp.get("code"))
    item: dict[str, Any] = {
        "code": code.code if code else None,
        "display": code.display if code else None,
    }
    if code and code.system and code.system != "http://loinc.org":
        item["system"] = code.system
    text = (comp.get("code") or {}).get("text")
    if text and text != item["display"]:
        item["text"] = text
    if isinstance(comp.get("valueQuantity"), dict):
        q = comp["valueQuantity"]
        item["value"] = q.get("value")
        item["unit"] = q.get("code") or q.get("unit")
        if q.get("unit") and q.get("unit") != item["unit"]:
            item["unit_display"] = q["unit"]
    else:
        for key, val in comp.items():
            if key.startswith("value"):
                item["value_type"] = key[5:]
                item["value"] = val
    return item


def map_observation(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Observation")
    category_code = None
    for concept in res.get("category") or []:
        coding = first_coding(concept)
        if coding and coding.code in OBSERVATION_CATEGORIES:
            category_code = coding.code
            break
    values.update(
        category=OBSERVATION_CATEGORIES.get(category_code or "", ObservationCategory.EXAM),
        status=enum_of(ObservationStatus, res.get("status"), "Observation.status"),
        **code_columns("code", res.get("code"), "Observation.code", required=True),
        code_concept=concept_beyond(res.get("code")),
        effective_at=parse_datetime(
            res.get("effectiveDateTime") or res.get("effectiveInstant"),
            "Observation.effectiveDateTime",
        )
        or period(res.get("effectivePeriod"), "Observation.effectivePeriod")[0],
        issued_at=parse_datetime(res.get("issued"), "Observation.issued"),
        note=notes_text(res.get("note")),
        data_absent_reason=res.get("dataAbsentReason"),
        performer_id=ctx.optional(
            (res.get("performer") or [None])[0], "Observation.performer", "Practitioner"
        ),
        body_site=display_of(res.get("bodySite"), 100),
        method=display_of(res.get("method"), 100),
    )
    if isinstance(res.get("valueQuantity"), dict):
        _quantity(values, res["valueQuantity"], "Observation.valueQuantity")
    elif "valueCodeableConcept" in res:
        values.update(
            code_columns("value_code", res["valueCodeableConcept"], "", required=False),
            value_concept=concept_beyond(res["valueCodeableConcept"]),
        )
    elif "valueString" in res:
        values["value_text"] = text_of(res["valueString"], 500)
    else:
        for key, val in res.items():
            if key.startswith("value"):
                values["value_other"] = {"type": key[5:], "value": val}
    if res.get("component"):
        values["components"] = [_component(c) for c in res["component"]]
    ranges = res.get("referenceRange") or []
    if ranges:
        low = (ranges[0].get("low") or {}).get("value")
        high = (ranges[0].get("high") or {}).get("value")
        values.update(
            reference_low=parse_decimal(low, "Observation.referenceRange.low"),
            reference_high=parse_decimal(high, "Observation.referenceRange.high"),
            reference_text=text_of(ranges[0].get("text"), 255),
        )
    interpretation = first_coding((res.get("interpretation") or [None])[0])
    if interpretation and interpretation.code:
        flag = {"N": "normal", "L": "low", "H": "high", "LL": "critical_low"}
        flag.update({"HH": "critical_high", "A": "abnormal", "AA": "abnormal"})
        found = flag.get(interpretation.code)
        values["interpretation"] = found
        values["is_abnormal"] = found not in (None, "normal")
    members = [ctx.optional(m, "Observation.hasMember") for m in res.get("hasMember", [])]
    derived = [ctx.optional(m, "Observation.derivedFrom") for m in res.get("derivedFrom", [])]
    values["member_ids"] = [str(m) for m in members if m] or None
    values["derived_from_ids"] = [str(m) for m in derived if m] or None
    if values.get("interpretation") is not None:
        values["interpretation"] = Interpretation(values["interpretation"])
    return [Row(Observation, ctx.source_system, res["id"], values)]


def map_diagnostic_report(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "DiagnosticReport")
    category = first_coding((res.get("category") or [None])[0])
    kind = ReportCategory.LAB
    if category and category.code in ("RAD", "IMG", "imaging", "LP29684-5"):
        kind = ReportCategory.IMAGING
    elif category and category.code not in ("LAB", "laboratory", None):
        kind = ReportCategory.OTHER
    forms = res.get("presentedForm") or None
    conclusion = (res.get("conclusionCode") or [None])[0]
    values.update(
        category=kind,
        status=enum_of(ReportStatus, res.get("status"), "DiagnosticReport.status"),
        **code_columns("code", res.get("code"), "DiagnosticReport.code", required=True),
        code_concept=concept_beyond(res.get("code")),
        effective_at=parse_datetime(
            res.get("effectiveDateTime"), "DiagnosticReport.effectiveDateTime"
        )
        or period(res.get("effectivePeriod"), "DiagnosticReport.effectivePeriod")[0],
        issued_at=parse_datetime(res.get("issued"), "DiagnosticReport.issued"),
        conclusion=res.get("conclusion"),
        **code_columns("conclusion", conclusion, "", required=False),
        performer_id=ctx.optional(
            (res.get("performer") or [None])[0], "DiagnosticReport.performer", "Practitioner"
        ),
        presented_form=forms,
    )
    rows = [Row(DiagnosticReport, ctx.source_system, res["id"], values)]
    report_id = ctx.ids[("DiagnosticReport", res["id"])]
    for i, result in enumerate(res.get("result", [])):
        target = ctx.resolve(result, f"DiagnosticReport.result[{i}]")
        if target is not None and target.resource_type == "Observation":
            rows.append(
                Row(
                    Observation,
                    ctx.source_system,
                    target.source_id,
                    {"diagnostic_report_id": report_id},
                    partial=True,
                )
            )
    return rows


def map_procedure(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Procedure")
    start, end = period(res.get("performedPeriod"), "Procedure.performedPeriod")
    start = start or parse_datetime(res.get("performedDateTime"), "Procedure.performedDateTime")
    reason = (res.get("reasonCode") or [None])[0]
    values.update(
        **code_columns("code", res.get("code"), "Procedure.code", required=True),
        code_concept=concept_beyond(res.get("code")),
        status=enum_of(ProcedureStatus, res.get("status"), "Procedure.status"),
        effective_at=start,
        performed_end=end,
        performed_text=text_of(res.get("performedString"), 100),
        **code_columns("category", res.get("category"), "", required=False),
        **code_columns("reason", reason, "", required=False),
        **code_columns("body_site", (res.get("bodySite") or [None])[0], "", required=False),
        reason_condition_id=ctx.optional(
            (res.get("reasonReference") or [None])[0], "Procedure.reasonReference", "Condition"
        ),
        performer_id=ctx.optional(
            ((res.get("performer") or [{}])[0]).get("actor"), "Procedure.performer", "Practitioner"
        ),
        note=notes_text(res.get("note")),
        outcome=text_of((res.get("outcome") or {}).get("text"), 255),
    )
    return [Row(Procedure, ctx.source_system, res["id"], values)]


def map_immunization(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Immunization")
    dose = res.get("doseQuantity") or {}
    protocol = (res.get("protocolApplied") or [{}])[0]
    site = first_coding(res.get("site"))
    route = first_coding(res.get("route"))
    values.update(
        **code_columns(
            "vaccine", res.get("vaccineCode"), "Immunization.vaccineCode", required=True
        ),
        vaccine_concept=concept_beyond(res.get("vaccineCode")),
        status=enum_of(ImmunizationStatus, res.get("status"), "Immunization.status"),
        effective_at=parse_datetime(
            res.get("occurrenceDateTime"), "Immunization.occurrenceDateTime"
        ),
        primary_source=bool(res.get("primarySource", True)),
        report_origin=display_of(res.get("reportOrigin"), 100),
        lot_number=text_of(res.get("lotNumber"), 64),
        expiration_date=parse_date(res.get("expirationDate"), "Immunization.expirationDate"),
        site=text_of(site.display if site else None, 64),
        route=text_of(route.display if route else None, 64),
        **code_columns("site", res.get("site"), "", required=False),
        **code_columns("route", res.get("route"), "", required=False),
        dose_quantity=parse_decimal(dose.get("value"), "Immunization.doseQuantity.value"),
        dose_unit=text_of(dose.get("code") or dose.get("unit"), 32),
        dose_number=protocol.get("doseNumberPositiveInt"),
        series_doses=protocol.get("seriesDosesPositiveInt"),
        note=notes_text(res.get("note")),
    )
    return [Row(Immunization, ctx.source_system, res["id"], values)]


MEDICATION_STATUS = {"intended": MedicationStatus.DRAFT, "not-taken": MedicationStatus.STOPPED}


def map_medication(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    rt = res["resourceType"]
    values = patient_columns(res, ctx, rt)
    concept = res.get("medicationCodeableConcept")
    if concept is None:
        # medicationReference: the Medication resource is kept raw; its code comes along.
        target = ctx.extra.get("medications", {}).get(
            (res.get("medicationReference") or {}).get("reference") or ""
        )
        concept = (target or {}).get("code")
    if concept is None:
        raise MappingError(f"{rt}.medication[x]", "no medication code to store")
    reasons = [
        ctx.optional(r, f"{rt}.reasonReference", "Condition")
        for r in res.get("reasonReference", [])
    ]
    reason_ids = [str(r) for r in reasons if r]
    dosage = res.get("dosageInstruction") or res.get("dosage") or []
    first_dose = dosage[0] if dosage else {}
    dispense = res.get("dispenseRequest") or {}
    authored = res.get("authoredOn") or res.get("dateAsserted") or res.get("effectiveDateTime")
    values.update(
        **code_columns("code", concept, f"{rt}.medicationCodeableConcept", required=True),
        code_concept=concept_beyond(concept),
        status=enum_of(MedicationStatus, res.get("status"), f"{rt}.status", MEDICATION_STATUS),
        is_patient_reported=rt == "MedicationStatement",
        effective_at=parse_datetime(authored, f"{rt}.authoredOn"),
        start_date=parse_date(authored, f"{rt}.authoredOn"),
        prescriber_id=ctx.optional(res.get("requester"), f"{rt}.requester", "Practitioner"),
        reason_condition_id=reasons[0] if reasons and reasons[0] else None,
        reason_condition_ids=reason_ids or None,
        **code_columns("reason", (res.get("reasonCode") or [None])[0], "", required=False),
        dosage_text=text_of(first_dose.get("text"), 500),
        as_needed=bool(first_dose.get("asNeededBoolean", False)),
        dosage_instructions=dosage or None,
        refills_allowed=dispense.get("numberOfRepeatsAllowed"),
        quantity=parse_decimal((dispense.get("quantity") or {}).get("value"), f"{rt}.quantity"),
        days_supply=(dispense.get("expectedSupplyDuration") or {}).get("value"),
        note=notes_text(res.get("note")),
    )
    if rt == "MedicationRequest":
        values["intent"] = enum_of(MedicationIntent, res.get("intent"), f"{rt}.intent")
    if isinstance(values["days_supply"], float):
        values["days_supply"] = int(values["days_supply"])
    return [Row(Medication, ctx.source_system, res["id"], values)]


def map_allergy(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "AllergyIntolerance")
    reactions = res.get("reaction") or []
    first = reactions[0] if reactions else {}
    manifestation = (first.get("manifestation") or [None])[0]
    category = (res.get("category") or [None])[0]
    path = "AllergyIntolerance"
    values.update(
        **code_columns("code", res.get("code"), f"{path}.code", required=True),
        code_concept=concept_beyond(res.get("code")),
        allergy_type=optional_enum(AllergyType, res.get("type"), f"{path}.type"),
        category=optional_enum(AllergyCategory, category, f"{path}.category"),
        criticality=optional_enum(
            AllergyCriticality, res.get("criticality"), f"{path}.criticality"
        ),
        clinical_status=enum_of(
            AllergyClinicalStatus,
            status_code(res.get("clinicalStatus")) or "active",
            f"{path}.clinicalStatus",
        ),
        verification_status=enum_of(
            AllergyVerificationStatus,
            status_code(res.get("verificationStatus")) or "confirmed",
            f"{path}.verificationStatus",
        ),
        effective_at=parse_datetime(res.get("recordedDate"), f"{path}.recordedDate"),
        onset_date=parse_date(res.get("onsetDateTime"), f"{path}.onsetDateTime"),
        last_occurrence_date=parse_date(res.get("lastOccurrence"), f"{path}.lastOccurrence"),
        reaction_manifestation=display_of(manifestation, 255),
        **code_columns("manifestation", manifestation, "", required=False),
        reaction_severity=optional_enum(
            Severity, first.get("severity"), f"{path}.reaction.severity"
        ),
        reactions=reactions
        if len(reactions) > 1 or len(first.get("manifestation") or []) > 1
        else None,
        note=notes_text(res.get("note")),
    )
    return [Row(Allergy, ctx.source_system, res["id"], values)]


def map_imaging_study(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "ImagingStudy")
    series = res.get("series") or []
    modality = (res.get("modality") or [None])[0] or (series[0].get("modality") if series else None)
    uid = next(
        (i.get("value") for i in res.get("identifier", []) if i.get("system") == "urn:dicom:uid"),
        None,
    )
    values.update(
        status=enum_of(ImagingStudyStatus, res.get("status"), "ImagingStudy.status"),
        **code_columns("modality", modality, "ImagingStudy.modality", required=True),
        **code_columns("procedure", (res.get("procedureCode") or [None])[0], "", required=False),
        study_uid=text_of((uid or "").removeprefix("urn:oid:") or None, 128),
        started_at=parse_datetime(res.get("started"), "ImagingStudy.started"),
        effective_at=parse_datetime(res.get("started"), "ImagingStudy.started"),
        description=text_of(res.get("description"), 255),
        number_of_series=res.get("numberOfSeries"),
        number_of_instances=res.get("numberOfInstances"),
        series=series or None,
        referrer_id=ctx.optional(res.get("referrer"), "ImagingStudy.referrer", "Practitioner"),
        note=notes_text(res.get("note")),
    )
    if series and series[0].get("bodySite"):
        values.update(code_columns("body_site", series[0]["bodySite"], "", required=False))
    return [Row(ImagingStudy, ctx.source_system, res["id"], values)]


NOTE_KINDS = {
    "11506-3": NoteKind.PROGRESS,
    "18842-5": NoteKind.DISCHARGE_SUMMARY,
    "34117-2": NoteKind.INTAKE,
    "51855-5": NoteKind.ASSESSMENT,
}
DOC_STATUS = {"final": NoteStatus.SIGNED, "preliminary": NoteStatus.DRAFT}


def map_document_reference(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "DocumentReference")
    contents = res.get("content") or []
    attachment = (contents[0].get("attachment") or {}) if contents else {}
    data = attachment.get("data")
    if not isinstance(data, str):
        raise MappingError(
            "DocumentReference.content[0].attachment.data", "only inline notes can be stored"
        )
    try:
        body = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise MappingError(
            "DocumentReference.content[0].attachment.data", "not base64 UTF-8 text"
        ) from None
    doc_type = first_coding(res.get("type"))
    status = NoteStatus.ENTERED_IN_ERROR if res.get("status") == "entered-in-error" else None
    start, end = period((res.get("context") or {}).get("period"), "DocumentReference.context")
    author = ctx.optional(
        (res.get("author") or [None])[0], "DocumentReference.author", "Practitioner"
    )
    kind = NOTE_KINDS.get(doc_type.code if doc_type and doc_type.code else "", NoteKind.PROGRESS)
    values.update(
        **code_columns("doc_type", res.get("type"), "DocumentReference.type", required=True),
        kind=NoteKind.PSYCHOTHERAPY if values["sensitivity"] & 2 else kind,
        status=status or DOC_STATUS.get(res.get("docStatus") or "final", NoteStatus.SIGNED),
        title=(attachment.get("title") or (doc_type.display if doc_type else None) or "Note")[:200],
        body=body,
        content_type=(attachment.get("contentType") or "text/plain").split(";")[0][:64],
        effective_at=parse_datetime(res.get("date"), "DocumentReference.date") or start,
        period_start=start,
        period_end=end,
        author_id=author,
        signed_by_id=author if res.get("docStatus", "final") == "final" else None,
        signed_at=parse_datetime(res.get("date"), "DocumentReference.date")
        if res.get("docStatus", "final") == "final"
        else None,
    )
    return [Row(ClinicalNote, ctx.source_system, res["id"], values)]
