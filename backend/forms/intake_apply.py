"""What a submitted intake changes in the unified record, and the list of those changes.

Everything written here is patient-reported: ``source_system`` "portal", ``source_id``
derived from the response id (so a second submit of the same response could never add
a second row: the unique (source_system, source_id) constraint refuses it), sources
``patient_reported`` and allergies ``unconfirmed`` until a clinician confirms them. No
staff ``author_id``: the patient wrote it. Demographics are not changed here (the
patient role may not write them): differences are listed for staff to review.

``changes`` maps a field to ``{"target", "previous", "submitted", "applied"}`` so staff
see before -> after; it holds only what differs from the record.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.clinical.common import ObservationStatus
from backend.clinical.models import (
    Allergy,
    AllergyVerificationStatus,
    Assessment,
    AssessmentSource,
)
from backend.clinical.results import SocialDomain, SocialFactor, SocialFactorSource, SocialRisk
from backend.clinical.scoring import DEFINITIONS, Instrument, response_items, score
from backend.common.types import Code, CodeSystem
from backend.forms.definitions import FORM_URL, GAD7_ITEMS, PHQ9_ITEMS, form_by_key
from backend.journey.models import Inquiry, InquiryChannel, ReferralSource, ReferralSourceKind
from backend.mpi.hooks import patients_changed
from backend.patients.models import (
    Address,
    AddressUse,
    ContactPoint,
    ContactSystem,
    ContactUse,
    EmergencyContact,
    Patient,
)

SOURCE = "portal"
NO_KNOWN_ALLERGY = Code(CodeSystem.SNOMED, "716186003", "No known allergy")
PATIENT_TEXT = "urn:patient360:patient-reported"  # free-text substance, not yet coded
DEMOGRAPHICS = {
    "given_name": "given_name",
    "family_name": "family_name",
    "preferred_name": "preferred_name",
    "birth_date": "birth_date",
}
# The AHC HRSN answers that mean a need, by question.
_FOOD = {"often": SocialRisk.HIGH_RISK, "sometimes": SocialRisk.AT_RISK}
SOCIAL = {
    "housing": (SocialDomain.HOUSING,
                {"worried": SocialRisk.AT_RISK, "unstable": SocialRisk.HIGH_RISK}),
    "food_worry": (SocialDomain.FOOD, _FOOD),
    "food_last": (SocialDomain.FOOD, _FOOD),
    "transportation": (SocialDomain.TRANSPORT, {"yes": SocialRisk.AT_RISK}),
    "safety": (SocialDomain.SAFETY, {"no": SocialRisk.HIGH_RISK, "unsure": SocialRisk.AT_RISK}),
}  # fmt: skip
REFERRAL_KINDS = {
    "self": ReferralSourceKind.SELF,
    "family": ReferralSourceKind.PERSON,
    "pcp": ReferralSourceKind.HEALTHCARE_PROVIDER,
    "hospital": ReferralSourceKind.HEALTHCARE_PROVIDER,
    "therapist": ReferralSourceKind.HEALTHCARE_PROVIDER,
    "court": ReferralSourceKind.COURT,
    "eap": ReferralSourceKind.EMPLOYER_EAP,
    "school": ReferralSourceKind.SCHOOL,
    "insurer": ReferralSourceKind.INSURER,
    "online": ReferralSourceKind.WEB_SEARCH,
    "alumni": ReferralSourceKind.ALUMNI,
    "other": ReferralSourceKind.OTHER,
}


@dataclass
class Applied:
    """What :func:`apply_intake` did: scores, the change list and the fields written."""

    scores: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)

    def change(self, name: str, target: str, previous: Any, submitted: Any, applied: bool) -> None:
        self.changes[name] = {
            "target": target,
            "previous": previous,
            "submitted": submitted,
            "applied": applied,
        }


def phone_value(raw: str) -> str:
    """A phone as stored (E.164 for North American numbers)."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 10:
        return "+1" + digits
    return "+" + digits


def apply_intake(
    *,
    session: Session,
    patient_id: uuid.UUID,
    response_id: uuid.UUID,
    answers: Mapping[str, Any],
    now: datetime,
) -> Applied:
    done = Applied()
    base = {
        "patient_id": patient_id,
        "source_system": SOURCE,
        "effective_at": now,
    }
    tag = str(response_id)
    _demographics(session, patient_id, answers, done)
    _contact(session, patient_id, answers, done, base, tag)
    _emergency_contact(session, patient_id, answers, done, base, tag)
    _allergies(session, answers, done, base, tag)
    _social(session, answers, done, base, tag, now)
    _assessments(session, answers, done, base, tag)
    _referral(session, patient_id, answers, done, base, tag, now)
    session.flush()
    # New phones, e-mail and address can reveal a duplicate record: suggest it to staff,
    # in this same transaction. Never merged automatically on patient-typed data.
    patients_changed(session, [patient_id], now=now, review_only=True)
    return done


def _demographics(
    session: Session, patient_id: uuid.UUID, answers: Mapping[str, Any], done: Applied
) -> None:
    patient = session.get_one(Patient, patient_id)
    for link_id, column in DEMOGRAPHICS.items():
        current = getattr(patient, column)
        before = current.isoformat() if hasattr(current, "isoformat") else current
        submitted = answers.get(link_id)
        if submitted is not None and submitted != before:
            done.change(link_id, f"Patient.{column}", before, submitted, applied=False)


def _current(session: Session, model: Any, patient_id: uuid.UUID, *where: Any) -> list[Any]:
    return list(
        session.scalars(
            select(model).where(model.patient_id == patient_id, model.deleted_at.is_(None), *where)
        )
    )


def _contact(
    session: Session,
    patient_id: uuid.UUID,
    answers: Mapping[str, Any],
    done: Applied,
    base: dict[str, Any],
    tag: str,
) -> None:
    for link_id, system in (("phone", ContactSystem.PHONE), ("email", ContactSystem.EMAIL)):
        raw = answers.get(link_id)
        if not raw:
            continue
        value = phone_value(raw) if system is ContactSystem.PHONE else raw.strip().lower()
        points = _current(
            session,
            ContactPoint,
            patient_id,
            ContactPoint.system == system,
            ContactPoint.period_end.is_(None),
        )
        preferred = min(points, key=lambda p: p.rank, default=None)
        if preferred is not None and preferred.value == value:
            continue
        for point in points:  # what the patient gave comes first from now on
            point.rank = max(point.rank, 2)
        known = next((p for p in points if p.value == value), None)
        if known is not None:  # already on file, not first: promote it, no duplicate
            known.rank = 1
            done.change(link_id, "ContactPoint.rank", preferred.value if preferred else None,
                        value, True)  # fmt: skip
            done.fields.append("ContactPoint.rank")
            continue
        use = {"mobile": ContactUse.MOBILE, "home": ContactUse.HOME, "work": ContactUse.WORK}
        session.add(
            ContactPoint(
                **base,
                source_id=f"intake:{tag}:{link_id}",
                system=system,
                value=value,
                use=use.get(answers.get("phone_type") or "") if link_id == "phone" else None,
                rank=1,
            )
        )
        done.change(
            link_id, "ContactPoint.value", preferred.value if preferred else None, value, True
        )
        done.fields.append("ContactPoint.value")
    wanted = {
        "line1": answers.get("address_line1"),
        "line2": answers.get("address_line2") or None,
        "city": answers.get("city"),
        "state": (answers.get("state") or "").upper() or None,
        "postal_code": answers.get("postal_code"),
    }
    if not wanted["line1"]:
        return
    homes = _current(
        session, Address, patient_id, Address.use == AddressUse.HOME, Address.period_end.is_(None)
    )
    shown = [{k: getattr(a, k) for k in wanted} for a in homes]
    if wanted in shown:
        return
    for home in homes:
        home.period_end = base["effective_at"].date()
    session.add(Address(**base, source_id=f"intake:{tag}:address", use=AddressUse.HOME, **wanted))
    done.change("address", "Address", _address_text(shown[0]) if shown else None,
                _address_text(wanted), True)  # fmt: skip
    done.fields.append("Address.line1")


def _address_text(parts: Mapping[str, Any]) -> str:
    return ", ".join(str(v) for v in parts.values() if v)


def _emergency_contact(
    session: Session,
    patient_id: uuid.UUID,
    answers: Mapping[str, Any],
    done: Applied,
    base: dict[str, Any],
    tag: str,
) -> None:
    name = answers.get("ec_name")
    if not name:
        return
    wanted = {
        "name": name,
        "relationship_to_patient": answers.get("ec_relationship") or "other",
        "phone": phone_value(answers["ec_phone"]) if answers.get("ec_phone") else None,
    }
    contacts = _current(session, EmergencyContact, patient_id, EmergencyContact.is_primary)
    before = [{k: getattr(c, k) for k in wanted} for c in contacts]
    if wanted in before:
        return
    for contact in contacts:
        contact.is_primary = False
    session.add(
        EmergencyContact(**base, source_id=f"intake:{tag}:emergency", is_primary=True, **wanted)
    )
    done.change(
        "emergency_contact",
        "EmergencyContact",
        _address_text(before[0]) if before else None,
        _address_text(wanted),
        True,
    )
    done.fields.append("EmergencyContact.name")


def _allergies(
    session: Session, answers: Mapping[str, Any], done: Applied, base: dict[str, Any], tag: str
) -> None:
    has = answers.get("has_allergies")
    if has is None:
        return
    text = (answers.get("allergies") or "").strip()
    code = Code(PATIENT_TEXT, "reported", text[:255]) if has else NO_KNOWN_ALLERGY
    session.add(
        Allergy(
            **base,
            source_id=f"intake:{tag}:allergies",
            code=code,
            verification_status=AllergyVerificationStatus.UNCONFIRMED,
            note=text or None,
        )
    )
    done.change("allergies", "Allergy", None, text if has else "No known allergies", True)
    done.fields.append("Allergy.code")


def _social(
    session: Session,
    answers: Mapping[str, Any],
    done: Applied,
    base: dict[str, Any],
    tag: str,
    now: datetime,
) -> None:
    questions = {
        q["linkId"]: q
        for step in form_by_key("intake")["schema"]["steps"]
        for q in step["questions"]
    }
    for link_id, (domain, risks) in SOCIAL.items():
        answer = answers.get(link_id)
        question = questions.get(link_id)
        if answer is None or question is None:
            continue
        loinc = question["code"]
        display = next((o["display"] for o in question["options"] if o["code"] == answer), answer)
        session.add(
            SocialFactor(
                **base,
                source_id=f"intake:{tag}:{link_id}",
                domain=domain,
                risk=risks.get(answer, SocialRisk.NO_RISK),
                status=ObservationStatus.FINAL,
                code=Code(loinc["system"], loinc["code"], loinc["display"][:255]),
                value_text=display[:500],
                source=SocialFactorSource.PATIENT_REPORTED,
                instrument="AHC HRSN",
                screened_at=now,
            )
        )
        done.change(link_id, "SocialFactor", None, display, True)
        done.fields.append("SocialFactor.risk")


def _assessments(
    session: Session, answers: Mapping[str, Any], done: Applied, base: dict[str, Any], tag: str
) -> None:
    for instrument, items in ((Instrument.PHQ9, PHQ9_ITEMS), (Instrument.GAD7, GAD7_ITEMS)):
        values = [answers.get(link_id) for link_id, _, _ in items]
        if not all(isinstance(v, str) and v in {"0", "1", "2", "3"} for v in values):
            continue
        numbers = [int(str(v)) for v in values]
        result = score(instrument, numbers)
        definition = DEFINITIONS[instrument]
        session.add(
            Assessment(
                **base,
                source_id=f"intake:{tag}:{instrument.value}",
                instrument=instrument,
                code=Code(CodeSystem.LOINC, definition.total_loinc, definition.total_display),
                status=ObservationStatus.FINAL,
                items=response_items(instrument, numbers),
                total_score=result.total,
                severity=result.severity,
                positive_screen=result.positive,
                suicide_risk=result.suicide_risk,
                source=AssessmentSource.PATIENT_REPORTED,
                questionnaire_url=f"{FORM_URL}intake",
            )
        )
        done.scores[instrument.value] = result.total
        done.scores[f"{instrument.value}_severity"] = result.severity.value
        done.fields.append("Assessment.total_score")


def _referral(
    session: Session,
    patient_id: uuid.UUID,
    answers: Mapping[str, Any],
    done: Applied,
    base: dict[str, Any],
    tag: str,
    now: datetime,
) -> None:
    answer = answers.get("referral_source")
    if not answer:
        return
    detail = answers.get("referrer_name") or answer
    kind = REFERRAL_KINDS.get(answer, ReferralSourceKind.OTHER)
    source_id = session.scalars(
        select(ReferralSource.id)
        .where(ReferralSource.kind == kind, ReferralSource.active)
        .where(ReferralSource.deleted_at.is_(None))
        .order_by(ReferralSource.recorded_at)
        .limit(1)
    ).first()
    first = session.scalars(
        select(Inquiry)
        .where(Inquiry.patient_id == patient_id, Inquiry.deleted_at.is_(None))
        .order_by(Inquiry.inquiry_at)
        .limit(1)
    ).first()
    if first is None:
        first = Inquiry(
            **base, source_id=f"intake:{tag}:inquiry", channel=InquiryChannel.WEB_FORM,
            inquiry_at=now,
        )  # fmt: skip
        session.add(first)
    previous = first.referral_detail
    if previous == detail and (source_id is None or first.referral_source_id == source_id):
        return
    first.referral_detail = detail
    if source_id is not None:
        first.referral_source_id = source_id
    done.change("referral_source", "Inquiry.referral_detail", previous, detail, True)
    done.fields.append("Inquiry.referral_detail")
