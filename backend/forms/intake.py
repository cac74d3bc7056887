"""The patient's own intake: start or resume a draft, save it step by step, submit it.

Only a patient principal with the ``submit_own_intake`` capability gets here, and only
for their own patient: any other response id answers exactly like one that does not
exist (:class:`NotFound`). The form itself is data (the active ``intake``
:class:`FormDefinition`); every step is validated with :mod:`backend.forms.validation`.

Submitting is one transaction (:mod:`backend.forms.intake_apply` writes the record) and
is idempotent: a completed response is returned as it is, nothing is written twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal, PrincipalKind
from backend.common.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from backend.forms.definitions import FORM_URL, form_by_key
from backend.forms.intake_apply import apply_intake
from backend.forms.models import (
    FormDefinition,
    FormResponse,
    FormStatus,
    ResponseStatus,
    SubmitterKind,
)
from backend.forms.validation import is_enabled, validate_answers

INTAKE_KEY = "intake"
CAPABILITY = "submit_own_intake"
BUILT_IN_SOURCE = "built_in"
PORTAL_SOURCE = "portal"
ALREADY_SUBMITTED = "This intake was already submitted."


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What saving one step did: the response as stored and per-field errors (nothing is
    saved when there are any)."""

    response: FormResponse
    errors: dict[str, str]


def _patient_of(policy: CompiledPolicy, principal: Principal) -> uuid.UUID:
    if principal.kind is not PrincipalKind.PATIENT or principal.patient_id is None:
        raise Forbidden("only a patient fills in their own intake")
    if not principal_may(policy, principal, CAPABILITY):
        raise Forbidden(f"this change needs the {CAPABILITY} permission")
    return principal.patient_id


def intake_definition(session: Session, *, now: datetime) -> FormDefinition:
    """The active intake form (newest version); the built-in one is added on first use.

    Its (source_system, source_id) is fixed, so two first uses at once insert one row:
    the loser's insert fails on the unique constraint and it reads the winner's.
    """
    found = _active(session)
    if found is not None:
        return found
    form = form_by_key(INTAKE_KEY)
    code = form["code"] or {}
    row = FormDefinition(
        key=INTAKE_KEY,
        form_version=form["form_version"],
        title=form["title"],
        description=form["description"],
        status=FormStatus.ACTIVE,
        url=f"{FORM_URL}{INTAKE_KEY}",
        code_system=code.get("system"),
        code_code=code.get("code"),
        code_display=code.get("display"),
        schema=form["schema"],
        published_at=now,
        source_system=BUILT_IN_SOURCE,
        source_id=f"{INTAKE_KEY}@{form['form_version']}",
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _active(session)
        if found is None:
            raise
        return found
    return row


def _active(session: Session) -> FormDefinition | None:
    return session.scalars(
        select(FormDefinition)
        .where(
            FormDefinition.key == INTAKE_KEY,
            FormDefinition.status == FormStatus.ACTIVE,
            FormDefinition.deleted_at.is_(None),
        )
        .order_by(FormDefinition.form_version.desc())
        .limit(1)
    ).first()


def steps_of(definition: FormDefinition) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = definition.schema.get("steps", [])
    return steps


def _draft(session: Session, patient_id: uuid.UUID) -> FormResponse | None:
    return session.scalars(
        select(FormResponse)
        .join(FormDefinition, FormDefinition.id == FormResponse.definition_id)
        .where(
            FormResponse.patient_id == patient_id,
            FormDefinition.key == INTAKE_KEY,
            FormResponse.status == ResponseStatus.IN_PROGRESS,
            FormResponse.deleted_at.is_(None),
        )
        .order_by(FormResponse.recorded_at.desc())
        .limit(1)
    ).first()


def current_intake(
    *, session: Session, principal: Principal, policy: CompiledPolicy
) -> tuple[FormResponse, FormDefinition] | None:
    """The patient's intake in progress with its form, or None."""
    draft = _draft(session, _patient_of(policy, principal))
    if draft is None:
        return None
    return draft, session.get_one(FormDefinition, draft.definition_id)


def start_intake(
    *, session: Session, principal: Principal, policy: CompiledPolicy, now: datetime
) -> FormResponse:
    """The patient's intake in progress (the newest), or a new empty one."""
    patient_id = _patient_of(policy, principal)
    definition = intake_definition(session, now=now)
    draft = _draft(session, patient_id)
    if draft is not None:
        return draft
    draft = FormResponse(
        patient_id=patient_id,
        definition_id=definition.id,
        status=ResponseStatus.IN_PROGRESS,
        answers={},
        current_step=steps_of(definition)[0]["id"],
        started_at=now,
        effective_at=now,
        submitted_by=SubmitterKind.PATIENT,
        source_system=PORTAL_SOURCE,
    )
    session.add(draft)
    session.flush()
    _audit(session, principal, policy, draft, AuditAction.CREATE, ["FormResponse.answers"], now)
    return draft


def load_intake(
    *, session: Session, principal: Principal, policy: CompiledPolicy, response_id: uuid.UUID
) -> tuple[FormResponse, FormDefinition]:
    """The patient's own intake response with its form; anyone else's is NotFound."""
    patient_id = _patient_of(policy, principal)
    row = session.execute(
        select(FormResponse, FormDefinition)
        .join(FormDefinition, FormDefinition.id == FormResponse.definition_id)
        .where(
            FormResponse.id == response_id,
            FormResponse.patient_id == patient_id,
            FormDefinition.key == INTAKE_KEY,
            FormResponse.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        raise NotFound()
    return row[0], row[1]


def step_by_id(definition: FormDefinition, step_id: str) -> dict[str, Any]:
    for step in steps_of(definition):
        if step["id"] == step_id:
            return step
    raise InvalidInput("step", "is not a step of this form")


def _next_step(definition: FormDefinition, step_id: str) -> str | None:
    ids = [step["id"] for step in steps_of(definition)]
    index = ids.index(step_id)
    return ids[index + 1] if index + 1 < len(ids) else None


def step_errors(
    definition: FormDefinition, step: Mapping[str, Any], answers: Mapping[str, Any]
) -> dict[str, str]:
    """Errors of one step's questions, with enableWhen read against all ``answers``."""
    own = {q["linkId"] for q in step["questions"]}
    errors = validate_answers(definition.schema, answers)
    return {link_id: message for link_id, message in errors.items() if link_id in own}


def save_step(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    response_id: uuid.UUID,
    step_id: str,
    answers: Mapping[str, Any],
    now: datetime,
) -> StepOutcome:
    """Replace one step's answers in the draft. Answers to questions outside the step are
    errors; answers to questions the other answers disable are dropped."""
    response, definition = load_intake(
        session=session, principal=principal, policy=policy, response_id=response_id
    )
    if response.status is not ResponseStatus.IN_PROGRESS:
        raise Conflict(ALREADY_SUBMITTED)
    step = step_by_id(definition, step_id)
    own = [q["linkId"] for q in step["questions"]]
    merged = {k: v for k, v in response.answers.items() if k not in own}
    merged.update({k: v for k, v in answers.items() if k in own})
    errors = step_errors(definition, step, merged)
    errors.update({k: "This question is not part of this step." for k in answers if k not in own})
    if errors:
        return StepOutcome(response, errors)
    kept = {
        q["linkId"]: merged[q["linkId"]]
        for q in step["questions"]
        if q["linkId"] in merged and is_enabled(q, merged) and merged[q["linkId"]] is not None
    }
    stored = {k: v for k, v in merged.items() if k not in own}
    stored.update(kept)
    response.answers = stored  # a new dict: the JSON column sees the change
    response.current_step = _next_step(definition, step_id) or step_id
    session.flush()
    _audit(session, principal, policy, response, AuditAction.UPDATE, ["FormResponse.answers"], now)
    return StepOutcome(response, {})


def review_errors(definition: FormDefinition, answers: Mapping[str, Any]) -> dict[str, str]:
    return validate_answers(definition.schema, answers)


def submit_intake(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    response_id: uuid.UUID,
    now: datetime,
) -> FormResponse:
    """Complete the intake and update the record, all or nothing; twice is once."""
    response, definition = load_intake(
        session=session, principal=principal, policy=policy, response_id=response_id
    )
    if response.status is ResponseStatus.COMPLETED:
        return response
    if response.status is not ResponseStatus.IN_PROGRESS:
        raise Conflict(ALREADY_SUBMITTED)
    errors = review_errors(definition, response.answers)
    if errors:
        problems = [Problem(field, message) for field, message in sorted(errors.items())]
        raise InvalidInput.of(problems)
    outcome = apply_intake(
        session=session,
        patient_id=response.patient_id,
        response_id=response.id,
        answers=response.answers,
        now=now,
    )
    response.status = ResponseStatus.COMPLETED
    response.completed_at = now
    response.effective_at = now
    response.scores = outcome.scores or None
    response.changes = outcome.changes or None
    session.flush()
    _audit(
        session,
        principal,
        policy,
        response,
        AuditAction.UPDATE,
        ["FormResponse.status", *outcome.fields],
        now,
    )
    return response


def _audit(
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    response: FormResponse,
    action: AuditAction,
    fields: list[str],
    now: datetime,
) -> None:
    audit.record(
        session=session,
        principal=principal,
        action=action,
        patient_id=response.patient_id,
        record_types=sorted({f.split(".")[0] for f in fields}),
        fields=sorted(set(fields)),
        policy_version=policy.version,
        now=now,
    )
