"""Adding a clinical note: clinicians only, psychotherapy notes by therapists only.

Who may write notes at all is the policy's ``notes`` write group (clinicians). A
psychotherapy note also needs the ``write_psychotherapy_notes`` capability (therapists),
is labelled ``Sensitivity.PSYCHOTHERAPY`` and from then on reaches only its author and
the patient's treating therapist, as every read path already enforces
(:mod:`backend.access.sensitivity`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal
from backend.access.writes import (
    insert_record,
    require_capability,
    require_patient,
    require_write,
)
from backend.clinical.codes import NOTE_TYPES
from backend.clinical.models import ClinicalNote, NoteKind, NoteStatus
from backend.clinical.records import ClinicalNoteView
from backend.common.errors import Problems
from backend.common.inputs import choice, moment, text
from backend.common.mixins import utcnow
from backend.common.types import Code, CodeSystem, Sensitivity
from backend.scheduling.models import Encounter

PSYCHOTHERAPY_CAPABILITY = "write_psychotherapy_notes"
MAX_TITLE = 200
MAX_BODY = 100_000


@dataclass(frozen=True, slots=True)
class NewNote:
    patient_id: uuid.UUID
    kind: str
    title: str
    body: str
    encounter_id: uuid.UUID | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    sign: bool = False
    part2: bool = False  # a substance-use-disorder record under 42 CFR Part 2


def add_clinical_note(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    data: NewNote,
    request_id: str | None = None,
    now: datetime | None = None,
) -> ClinicalNoteView:
    """A note by the caller, as a draft or signed at once (``sign``)."""
    now = now or utcnow()
    problems = Problems()
    kind = choice(problems, "kind", data.kind, NoteKind)
    title = text(problems, "title", data.title, max_chars=MAX_TITLE, required=True)
    body = text(problems, "body", data.body, max_chars=MAX_BODY, required=True)
    start = moment(problems, "period_start", data.period_start, now=now, past_only=True)
    end = moment(problems, "period_end", data.period_end, now=now, past_only=True)
    if start is not None and end is not None and end < start:
        problems.add("period_end", "must not be before period_start")
    sensitivity = Sensitivity.NONE
    if kind is NoteKind.PSYCHOTHERAPY:
        sensitivity |= Sensitivity.PSYCHOTHERAPY
    if data.part2:
        sensitivity |= Sensitivity.PART2
    code, display = NOTE_TYPES[kind] if kind is not None else ("", "")
    values = {
        "patient_id": data.patient_id,
        "kind": kind,
        "status": NoteStatus.SIGNED if data.sign else NoteStatus.DRAFT,
        "doc_type": Code(CodeSystem.LOINC, code, display),
        "title": title,
        "body": body,
        "period_start": start,
        "period_end": end,
        "encounter_id": data.encounter_id,
        "signed_at": now if data.sign else None,
        "signed_by_id": principal.subject_id if data.sign else None,
        "author_id": principal.subject_id,
        "sensitivity": sensitivity,
        "effective_at": end or start or now,
    }
    fields = [k for k, v in values.items() if v is not None and k != "doc_type"]
    changes = {"ClinicalNote": [*fields, "doc_type_system", "doc_type_code", "doc_type_display"]}
    require_write(policy=policy, principal=principal, changes=changes)
    if kind is NoteKind.PSYCHOTHERAPY:
        require_capability(policy=policy, principal=principal, capability=PSYCHOTHERAPY_CAPABILITY)
    problems.raise_if_any()
    require_patient(session=session, principal=principal, patient_id=data.patient_id, now=now)
    if data.encounter_id is not None:
        encounter = session.get(Encounter, data.encounter_id)
        if encounter is None or encounter.patient_id != data.patient_id or encounter.deleted_at:
            problems.add("encounter_id", "is not one of this patient's encounters")
    problems.raise_if_any()
    return insert_record(
        session=session,
        principal=principal,
        policy=policy,
        row=ClinicalNote(**values),
        changes=changes,
        view=ClinicalNoteView,
        request_id=request_id,
        now=now,
    )
