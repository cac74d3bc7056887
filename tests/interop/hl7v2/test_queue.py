"""Idempotency, the error queue, retries after a fix, and who may manage the queue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, load_policy
from backend.access.principal import Principal, PrincipalKind
from backend.identity.routing import resolve_survivor
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.service import Hl7Forbidden, list_messages, retry_message
from backend.interop.hl7v2.store import RetryRefused, failed_ids, receive, retry
from backend.patients.models import Patient, PatientStatus
from backend.settings import Settings
from tests.interop.hl7v2.conftest import SECRET, err_segment, fixture_text, msa
from tests.interop.hl7v2.test_listener import adt_a04


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_resend_changes_nothing_and_gets_the_same_ack(session: Session) -> None:
    message = adt_a04("IDEM1", "IDEM1")
    first = receive(session=session, text=message, secret_key=SECRET)
    before = (count(session, Patient), count(session, Hl7Message))
    again = receive(session=session, text=message.replace("\r", "\n"), secret_key=SECRET)
    assert again.duplicate
    assert again.ack == first.ack
    assert again.message_id == first.message_id
    assert (count(session, Patient), count(session, Hl7Message)) == before


def test_a_reused_control_id_with_other_content_is_its_own_message(session: Session) -> None:
    one = receive(session=session, text=adt_a04("REUSE1", "SAME-ID"), secret_key=SECRET)
    two = receive(session=session, text=adt_a04("REUSE2", "SAME-ID"), secret_key=SECRET)
    assert not two.duplicate
    assert one.message_id != two.message_id
    assert two.state == MessageState.PROCESSED


def test_wrong_content_is_ae_with_err_and_no_patient_data(session: Session) -> None:
    receipt = receive(
        session=session, text=adt_a04("BADDOB1", "BADDOB1", birth="19XX0230"), secret_key=SECRET
    )
    assert (receipt.ack_code, receipt.state, receipt.error_code) == (
        "AE",
        MessageState.FAILED,
        "content_error",
    )
    assert receipt.error_detail == "PID-7: not a valid HL7 date/time"
    err = err_segment(receipt.ack) or ""
    assert "PID^1^7" in err
    assert "102^Data type error^HL70357" in err
    assert "19XX0230" not in receipt.ack
    assert "TESTER" not in receipt.ack
    # Nothing half-written: the patient of a failed message does not exist.
    assert session.scalars(select(Patient).where(Patient.source_id == "BADDOB1")).first() is None
    assert receipt.message_id in failed_ids(session)


def test_versions_outside_2_3_to_2_8_are_rejected(session: Session) -> None:
    receipt = receive(
        session=session, text=adt_a04("V29", "V29").replace("|P|2.5.1", "|P|2.9"), secret_key=SECRET
    )
    assert (receipt.ack_code, receipt.state, receipt.error_code) == (
        "AR",
        MessageState.REJECTED,
        "unsupported_version",
    )


def test_a40_merges_through_the_merge_service_and_a_resend_changes_nothing(
    session: Session,
) -> None:
    tag = uuid.uuid4().hex[:6]
    receive(session=session, text=adt_a04(f"KEEP{tag}", f"K{tag}"), secret_key=SECRET)
    receive(session=session, text=adt_a04(f"GONE{tag}", f"G{tag}"), secret_key=SECRET)
    a40 = fixture_text("ADT-A40-01.hl7").replace("12345^^^BCBS^MR", f"KEEP{tag}^^^TESTFAC^MR")
    a40 = a40.replace("56789^^^BCBS^MR", f"GONE{tag}^^^TESTFAC^MR").replace("8919-40", f"M{tag}")
    done = receive(session=session, text=a40, secret_key=SECRET)
    assert (done.ack_code, done.state) == ("AA", MessageState.PROCESSED)
    gone = session.scalars(select(Patient).where(Patient.source_id == f"GONE{tag}")).one()
    keep = session.scalars(select(Patient).where(Patient.source_id == f"KEEP{tag}")).one()
    assert gone.status == PatientStatus.MERGED
    assert resolve_survivor(session, gone.id) == keep.id
    again = receive(session=session, text=a40, secret_key=SECRET)
    assert again.ack_code == "AA"
    with pytest.raises(RetryRefused):
        retry(session=session, message_id=done.message_id, secret_key=SECRET)


def test_a40_for_an_unknown_prior_patient_is_a_content_error(session: Session) -> None:
    tag = uuid.uuid4().hex[:6]
    receive(session=session, text=adt_a04(f"KEEP{tag}", f"K{tag}"), secret_key=SECRET)
    a40 = fixture_text("ADT-A40-01.hl7").replace("12345^^^BCBS^MR", f"KEEP{tag}^^^TESTFAC^MR")
    a40 = a40.replace("56789^^^BCBS^MR", f"NOBODY{tag}^^^TESTFAC^MR").replace("8919-40", f"N{tag}")
    outcome = receive(session=session, text=a40, secret_key=SECRET)
    assert (outcome.ack_code, outcome.state, outcome.error_code) == (
        "AE",
        MessageState.FAILED,
        "content_error",
    )


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


def _principal(*roles: str) -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF, subject_id=uuid.uuid4(), username="-".join(roles),
        roles=frozenset(roles),
    )  # fmt: skip


def test_only_integration_and_admin_manage_the_queue(
    session: Session, policy: CompiledPolicy
) -> None:
    failed = receive(session=session, text=adt_a04("Q1", "Q1", birth="bad"), secret_key=SECRET)
    for role in ("integration", "admin"):
        page = list_messages(
            session=session, principal=_principal(role), policy=policy, state="failed"
        )
        assert failed.message_id in [m.id for m in page.messages]
        view = next(m for m in page.messages if m.id == failed.message_id)
        assert view.error_detail == "PID-7: not a valid HL7 date/time"
        assert not hasattr(view, "raw")
        assert not hasattr(view, "patient_ids")
    for role in ("physician", "front_desk", "auditor"):
        with pytest.raises(Hl7Forbidden):
            list_messages(session=session, principal=_principal(role), policy=policy)
        with pytest.raises(Hl7Forbidden):
            retry_message(
                session=session, principal=_principal(role), policy=policy,
                message_id=failed.message_id, secret_key=SECRET,
            )  # fmt: skip
    again = retry_message(
        session=session, principal=_principal("integration"), policy=policy,
        message_id=failed.message_id, secret_key=SECRET,
    )  # fmt: skip
    assert (again.state, again.attempts) == ("failed", 2)


def test_listing_pages_with_cursors(session: Session, policy: CompiledPolicy) -> None:
    tag = uuid.uuid4().hex[:6]
    for i in range(3):
        receive(session=session, text=adt_a04(f"P{tag}{i}", f"P{tag}{i}"), secret_key=SECRET)
    admin = _principal("admin")
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = list_messages(session=session, principal=admin, policy=policy, first=2, after=after)
        seen += [m.id for m in page.messages]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert len(seen) == len(set(seen)) == count(session, Hl7Message)
    assert (
        msa(receive(session=session, text=adt_a04(f"P{tag}0", f"P{tag}0"), secret_key=SECRET).ack)[
            1
        ]
        == "AA"
    )
