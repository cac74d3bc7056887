"""The forms demo generator: definitions once, valid answers that agree with the patient."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.common.types import Sensitivity
from backend.demo import billing, forms, scheduling
from backend.forms.definitions import BUILT_IN_FORMS, score_answers, validate_answers
from backend.forms.models import FormDefinition, FormResponse, FormStatus, ResponseStatus
from backend.forms.validation import REQUIRED
from tests.demo_world import seeded


def test_generated_responses_are_valid_and_consistent(session: Session) -> None:
    ctx, seeds, counts = seeded(session, (scheduling, billing, forms), count=40)
    definitions = {d.id: d for d in session.scalars(select(FormDefinition))}
    assert len(definitions) == len(BUILT_IN_FORMS)
    assert all(d.status is FormStatus.ACTIVE for d in definitions.values())
    by_id = {seed.id: seed for seed in seeds}
    intakes: dict[object, FormResponse] = {}
    for response in session.scalars(select(FormResponse)):
        definition = definitions[response.definition_id]
        seed = by_id[response.patient_id]
        assert response.recorded_at <= ctx.now
        errors = validate_answers(definition.schema, response.answers)
        if response.status is ResponseStatus.COMPLETED:
            assert errors == {}, (definition.key, errors)
            assert response.completed_at is not None
            assert response.completed_at <= ctx.now
        else:
            assert set(errors.values()) <= {REQUIRED}
            assert response.current_step
        if definition.key == "intake":
            intakes[seed.id] = response
            assert response.answers["family_name"] == seed.family_name
            assert response.answers["birth_date"] == seed.birth_date.isoformat()
            part2 = seed.facts["scheduling.primary_reason"][3]
            assert (response.sensitivity == Sensitivity.PART2) == part2
        if response.status is ResponseStatus.COMPLETED and definition.key in {"intake", "phq9"}:
            assert response.scores == score_answers(response.answers)
    for seed in seeds:
        if seed.admitted_at is not None:
            intake = intakes[seed.id]
            assert intake.status is ResponseStatus.COMPLETED
            assert intake.completed_at is not None
            assert seed.admitted_at >= intake.completed_at
            summary = seed.facts["billing.coverage_summary"]
            if summary and summary["payer"] != "self_pay":
                assert intake.answers["insurance_member_id"] == summary["member_id"]
        elif seed.id in intakes:
            assert intakes[seed.id].status is ResponseStatus.IN_PROGRESS
    assert counts["form_response"] <= 2 * len(seeds)
