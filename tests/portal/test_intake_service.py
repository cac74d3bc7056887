"""The intake service as every transport calls it: who may, whose response, what is valid."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, policy_store
from backend.accounts.models import StaffRole
from backend.auth.portal_sessions import patient_principal
from backend.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.forms.intake import save_step, start_intake, submit_intake
from backend.forms.intake_apply import apply_intake
from backend.forms.models import ResponseStatus
from backend.patients.models import ContactPoint, ContactSystem
from backend.settings import Settings
from tests.portal.world import build_world

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return policy_store(Settings().policies_dir).current()


def test_only_the_patient_and_only_their_own(session: Session, policy: CompiledPolicy) -> None:
    world = build_world(session)
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    ben = patient_principal(session=session, portal_account_id=world.accounts["ben"])
    assert ana is not None
    assert ben is not None
    draft = start_intake(session=session, principal=ana, policy=policy, now=NOW)
    assert start_intake(session=session, principal=ana, policy=policy, now=NOW).id == draft.id
    with pytest.raises(NotFound):
        save_step(session=session, principal=ben, policy=policy, response_id=draft.id,
                  step_id="insurance", answers={"has_insurance": False}, now=NOW)  # fmt: skip
    with pytest.raises(NotFound):
        submit_intake(session=session, principal=ben, policy=policy, response_id=draft.id, now=NOW)
    nurse = world.staff_principal("nurse", StaffRole.NURSE)
    with pytest.raises(Forbidden):
        start_intake(session=session, principal=nurse, policy=policy, now=NOW)
    assert draft.answers == {}


def test_steps_refuse_foreign_answers_and_submit_names_every_gap(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session)
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    assert ana is not None
    draft = start_intake(session=session, principal=ana, policy=policy, now=NOW)
    outcome = save_step(session=session, principal=ana, policy=policy, response_id=draft.id,
                        step_id="insurance", answers={"has_insurance": False, "phq9_1": "3"},
                        now=NOW)  # fmt: skip
    assert outcome.errors == {"phq9_1": "This question is not part of this step."}
    assert draft.answers == {}
    with pytest.raises(InvalidInput) as refused:
        save_step(session=session, principal=ana, policy=policy, response_id=draft.id,
                  step_id="no-such-step", answers={}, now=NOW)  # fmt: skip
    assert refused.value.field == "step"
    with pytest.raises(InvalidInput) as gaps:
        submit_intake(session=session, principal=ana, policy=policy, response_id=draft.id, now=NOW)
    fields = {p.field for p in gaps.value.problems}
    assert {"given_name", "phone", "ec_name", "phq9_9", "gad7_1"} <= fields
    assert draft.status is ResponseStatus.IN_PROGRESS


def test_a_completed_intake_is_not_edited(session: Session, policy: CompiledPolicy) -> None:
    world = build_world(session)
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    assert ana is not None
    draft = start_intake(session=session, principal=ana, policy=policy, now=NOW)
    draft.status = ResponseStatus.COMPLETED
    session.flush()
    with pytest.raises(Conflict):
        save_step(session=session, principal=ana, policy=policy, response_id=draft.id,
                  step_id="insurance", answers={"has_insurance": False}, now=NOW)  # fmt: skip
    again = submit_intake(session=session, principal=ana, policy=policy, response_id=draft.id,
                          now=NOW)  # fmt: skip
    assert again.id == draft.id


def test_a_known_second_number_is_promoted_not_duplicated(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session)
    ana = world.patients["ana"]
    first = ContactPoint(patient_id=ana, system=ContactSystem.PHONE, value="+16175550100", rank=1)
    second = ContactPoint(patient_id=ana, system=ContactSystem.PHONE, value="+16175550134", rank=2)
    session.add_all([first, second])
    session.flush()
    done = apply_intake(session=session, patient_id=ana, response_id=uuid.uuid4(),
                        answers={"phone": "617 555 0134"}, now=NOW)  # fmt: skip
    assert (first.rank, second.rank) == (2, 1)
    assert done.changes["phone"]["previous"] == "+16175550100"
    again = apply_intake(session=session, patient_id=ana, response_id=uuid.uuid4(),
                         answers={"phone": "(617) 555-0134"}, now=NOW)  # fmt: skip
    assert "phone" not in again.changes
