"""Form definitions and responses against real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.accounts.models import StaffRole
from backend.demo.context import JourneyStage
from backend.forms.definitions import form_by_key
from backend.forms.models import (
    FormDefinition,
    FormResponse,
    FormStatus,
    ResponseStatus,
    SubmitterKind,
)
from tests.demo_world import clinic, insert_in_savepoint, new_sink, patient
from tests.tables import table_of


def _definition(form_version: int = 1) -> FormDefinition:
    form = form_by_key("phq9")
    return FormDefinition(
        key="phq9-test",
        form_version=form_version,
        title=form["title"],
        status=FormStatus.ACTIVE,
        schema=form["schema"],
    )


def test_response_round_trips_with_its_definition(session: Session) -> None:
    sink = new_sink()
    ctx = clinic(sink)
    seed = patient(ctx, sink, 5, JourneyStage.IN_TREATMENT)
    sink.flush(session.connection())
    definition = _definition()
    session.add(definition)
    session.flush()
    answers = {"phq9_1": "2", "phq9_2": "1", "free": "Caf\u00e9 \u2014 ok", "list": ["a", "b"]}
    response = FormResponse(
        patient_id=seed.id,
        definition_id=definition.id,
        status=ResponseStatus.COMPLETED,
        answers=answers,
        started_at=ctx.now - timedelta(minutes=5),
        completed_at=ctx.now,
        submitted_by=SubmitterKind.STAFF,
        submitted_by_staff_id=ctx.staff[StaffRole.FRONT_DESK][0],
        scores={"phq9": 3},
        changes={"phone": {"target": "contact_point", "previous": None, "submitted": "+1"}},
    )
    session.add(response)
    session.flush()
    session.expunge_all()

    loaded = session.scalars(
        select(FormResponse).options(selectinload(FormResponse.definition))
    ).one()
    assert loaded.answers == answers
    assert loaded.scores == {"phq9": 3}
    assert loaded.changes is not None
    assert loaded.changes["phone"]["target"] == "contact_point"
    assert loaded.status is ResponseStatus.COMPLETED
    assert loaded.submitted_by is SubmitterKind.STAFF
    assert loaded.definition.key == "phq9-test"
    assert loaded.definition.schema["steps"][0]["questions"][0]["linkId"] == "phq9_1"
    assert loaded.definition.version == 1  # the optimistic-lock counter, apart from form_version


def test_a_form_version_exists_once(session: Session) -> None:
    session.add(_definition(1))
    session.flush()
    with pytest.raises(IntegrityError):
        insert_in_savepoint(session, _definition(1))
    session.add(_definition(2))  # a new version of the same form is fine
    session.flush()


def test_in_progress_response_defaults(session: Session) -> None:
    sink = new_sink()
    ctx = clinic(sink)
    seed = patient(ctx, sink, 6, JourneyStage.INQUIRY)
    sink.flush(session.connection())
    definition = _definition()
    session.add(definition)
    session.flush()
    response = FormResponse(patient_id=seed.id, definition_id=definition.id)
    session.add(response)
    session.flush()
    session.expire_all()
    again = session.get(FormResponse, response.id)
    assert again is not None
    assert again.status is ResponseStatus.IN_PROGRESS
    assert again.answers == {}
    assert again.changes is None
    assert again.submitted_by is SubmitterKind.PATIENT


def test_stale_response_update_is_refused(session: Session) -> None:
    sink = new_sink()
    ctx = clinic(sink)
    seed = patient(ctx, sink, 7, JourneyStage.INQUIRY)
    sink.flush(session.connection())
    definition = _definition()
    session.add(definition)
    session.flush()
    response = FormResponse(patient_id=seed.id, definition_id=definition.id, answers={})
    session.add(response)
    session.flush()
    table = table_of(FormResponse)
    session.execute(update(table).where(table.c.id == response.id).values(version=5))
    response.current_step = "contact"
    with pytest.raises(StaleDataError):
        session.flush()
    session.rollback()
