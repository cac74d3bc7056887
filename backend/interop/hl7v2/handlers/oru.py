"""ORU^R01 lab results: each OBR a DiagnosticReport, each OBX under it an Observation.

Keys: a report is its filler order number (OBR-3, else the placer's OBR-2), so a
corrected result (same order, OBX-11 ``C``) updates the rows it corrects; an observation
is its report's key plus its OBX position and code. OBX segments before the first OBR
are patient-level observations (the PATIENT_OBSERVATION group). An OBX without an
observation identifier cannot be an Observation: it stays in the raw message and the
message carries a warning saying so.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.clinical.common import ObservationStatus
from backend.clinical.results import (
    DiagnosticReport,
    Interpretation,
    Observation,
    ObservationCategory,
    ReportStatus,
)
from backend.common.types import Code
from backend.interop.hl7v2.handlers.common import (
    MessageContext,
    check_pid,
    coded,
    patient_from_pid,
    upsert,
)
from backend.interop.hl7v2.parse import Header, Hl7ContentError, get, optional_datetime, repeats

_STATUS = {
    "F": ObservationStatus.FINAL,
    "P": ObservationStatus.PRELIMINARY,
    "R": ObservationStatus.PRELIMINARY,
    "S": ObservationStatus.PRELIMINARY,
    "C": ObservationStatus.CORRECTED,
    "A": ObservationStatus.AMENDED,
    "X": ObservationStatus.CANCELLED,
    "D": ObservationStatus.ENTERED_IN_ERROR,
    "W": ObservationStatus.ENTERED_IN_ERROR,
    "I": ObservationStatus.REGISTERED,
    "O": ObservationStatus.REGISTERED,
}
_REPORT_STATUS = {
    "F": ReportStatus.FINAL,
    "P": ReportStatus.PRELIMINARY,
    "R": ReportStatus.PRELIMINARY,
    "C": ReportStatus.CORRECTED,
    "A": ReportStatus.PARTIAL,
    "X": ReportStatus.CANCELLED,
    "I": ReportStatus.REGISTERED,
    "O": ReportStatus.REGISTERED,
    "S": ReportStatus.PARTIAL,
}
_FLAGS = {
    "N": Interpretation.NORMAL,
    "L": Interpretation.LOW,
    "H": Interpretation.HIGH,
    "LL": Interpretation.CRITICAL_LOW,
    "HH": Interpretation.CRITICAL_HIGH,
    "A": Interpretation.ABNORMAL,
    "AA": Interpretation.ABNORMAL,
}
_RANGE = re.compile(r"^\s*(-?[\d.]+)\s*(?:-|to)\s*(-?[\d.]+)\s*$")


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _groups(message: Any) -> list[tuple[Any | None, list[tuple[int, Any]]]]:
    """(OBR or None, [(position, OBX)]) in message order."""
    groups: list[tuple[Any | None, list[tuple[int, Any]]]] = [(None, [])]
    for n, segment in enumerate(message, start=1):
        name = str(segment[0][0])
        if name == "OBR":
            groups.append((segment, []))
        elif name == "OBX":
            groups[-1][1].append((n, segment))
    return [g for g in groups if g[0] is not None or g[1]]


def _report_key(ctx: MessageContext, obr: Any, index: int) -> str:
    for field_no in (3, 2):
        number = get(obr, field_no)
        if number:
            namespace = get(obr, field_no, comp=2)
            return f"order:{number}^{namespace}" if namespace else f"order:{number}"
    return f"msg:{ctx.header.control_id}|OBR{index}"


def _has_value(obx: Any) -> bool:
    return bool(get(obx, 5)) or repeats(obx, 5) > 0


def _numeric(obx: Any, location: str) -> Decimal | None:
    """OBX-5 of an NM observation as a number; None when the OBX is not NM or has no
    value. An NM value that is not a number is a content error."""
    if get(obx, 2).upper() != "NM" or not _has_value(obx):
        return None
    number = _decimal(get(obx, 5))
    if number is None:
        raise Hl7ContentError(location, "an NM (numeric) value that is not a number")
    return number


def _report_code(obr: Any) -> Code:
    code = coded(obr, 4)
    if code is None:
        raise Hl7ContentError("OBR-4", "no universal service identifier", code="101")
    return code


def check_results(message: Any, header: Header) -> None:
    """What makes an ORU^R01 wrong before any record is read: PID-3, every OBR-4, the
    numeric values and the times the records take."""
    check_pid(message, header, demographics=False)
    for obr, observations in _groups(message):
        if obr is not None:
            _report_code(obr)
            optional_datetime(obr, 7)
            optional_datetime(obr, 22)
        for position, obx in observations:
            if coded(obx, 3) is None:
                continue  # not an Observation: a warning, not an error
            _numeric(obx, f"OBX-{position}")
            optional_datetime(obx, 14)
            optional_datetime(obx, 19)


def _value(obs: Observation, obx: Any, location: str) -> None:
    kind = get(obx, 2).upper()
    count = repeats(obx, 5)
    first_value = get(obx, 5)
    obs.value_quantity = obs.value_text = obs.value_other = obs.value_precise = None
    obs.value_code = None
    if not _has_value(obx):
        return
    if kind == "NM":
        obs.value_quantity = _numeric(obx, location)
        obs.value_precise = first_value[:40]
        if count > 1:
            obs.value_other = {
                "type": "NM",
                "values": [get(obx, 5, r) for r in range(1, count + 1)],
            }
    elif kind in {"CE", "CWE", "CNE"}:
        obs.value_code = coded(obx, 5)
        obs.value_text = (get(obx, 5, comp=2) or None) and get(obx, 5, comp=2)[:500]
    elif kind in {"ST", "TX", "FT"}:
        obs.value_text = "\n".join(get(obx, 5, r) for r in range(1, max(count, 1) + 1))[:500]
    else:  # SN, ED, RP, DT, TS ... kept whole, by type
        parts = [get(obx, 5, 1, c) for c in range(1, 6)]
        obs.value_other = {"type": kind, "value": [p for p in parts]}


def _observation(
    ctx: MessageContext, obx: Any, key: str, position: int, report: DiagnosticReport | None
) -> Observation | None:
    code = coded(obx, 3)
    location = f"OBX-{position}"
    if code is None:
        ctx.warnings.append(f"segment {position} (OBX): no OBX-3 code; kept only in the message")
        return None
    obs: Observation
    obs, _ = upsert(ctx.session, Observation, ctx.source_system, f"{key}|{position}|{code.code}")
    obs.category = ObservationCategory.LABORATORY
    obs.code = code
    obs.diagnostic_report_id = report.id if report is not None else None
    obs.encounter_id = None
    _value(obs, obx, location)
    obs.value_unit = (get(obx, 6) or None) and get(obx, 6)[:32]
    reference = get(obx, 7)
    match = _RANGE.match(reference)
    obs.reference_low = _decimal(match.group(1)) if match else None
    obs.reference_high = _decimal(match.group(2)) if match else None
    obs.reference_text = reference[:255] or None
    flag = get(obx, 8).upper()
    obs.interpretation = _FLAGS.get(flag)
    obs.is_abnormal = flag not in {"", "N"}
    obs.status = _STATUS.get(get(obx, 11).upper(), ObservationStatus.UNKNOWN)
    obs.effective_at = optional_datetime(obx, 14) or (
        report.effective_at if report is not None else None
    )
    obs.issued_at = optional_datetime(obx, 19)
    obs.method = get(obx, 17, comp=2)[:100] or get(obx, 17)[:100] or None
    obs.performer_name = get(obx, 23)[:200] or None
    return obs


def results(ctx: MessageContext) -> list[uuid.UUID]:
    """ORU^R01: reports and observations for the PID's patient."""
    check_results(ctx.message, ctx.header)
    patient = patient_from_pid(ctx, update=False)
    for index, (obr, observations) in enumerate(_groups(ctx.message)):
        report: DiagnosticReport | None = None
        key = f"msg:{ctx.header.control_id}|patient"
        if obr is not None:
            key = _report_key(ctx, obr, index)
            code = _report_code(obr)
            found, _ = upsert(ctx.session, DiagnosticReport, ctx.source_system, key)
            report = found
            report.patient_id = patient.id
            report.code = code
            report.status = _REPORT_STATUS.get(get(obr, 25).upper(), ReportStatus.UNKNOWN)
            report.effective_at = optional_datetime(obr, 7)
            report.issued_at = optional_datetime(obr, 22)
            report.accession_number = (get(obr, 18) or None) and get(obr, 18)[:64]
            report.performer_name = get(obr, 21)[:200] or None
            ctx.session.flush()
        for position, obx in observations:
            obs = _observation(ctx, obx, key, position, report)
            if obs is not None:
                obs.patient_id = patient.id
    return [patient.id]
