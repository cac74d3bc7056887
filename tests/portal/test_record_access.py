"""'Who looked at my record' as a service: scope, capability, no names, not one's own visits."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from backend.access.access_log import AccessLogForbidden, record_access
from backend.access.policy import CompiledPolicy, policy_store
from backend.accounts.models import StaffRole
from backend.auth.portal_sessions import patient_principal
from backend.settings import Settings
from tests.portal.world import build_world


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return policy_store(Settings().policies_dir).current()


def test_a_patient_sees_roles_and_times_of_reads_of_their_own_record(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session)
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    assert ana is not None
    entries = record_access(
        session=session, principal=ana, policy=policy, patient_id=world.patients["ana"]
    )
    assert entries is not None
    assert [(e.action, e.roles, e.actor_name, e.emergency) for e in entries] == [
        ("read", ("nurse",), None, False)
    ]
    # Reading the log is itself audited, as the patient: and not listed back to them.
    again = record_access(
        session=session, principal=ana, policy=policy, patient_id=world.patients["ana"]
    )
    assert again == entries
    # Another patient's id answers like an unknown one.
    assert (
        record_access(
            session=session, principal=ana, policy=policy, patient_id=world.patients["ben"]
        )
        is None
    )


def test_staff_roles_do_not_hold_the_capability(session: Session, policy: CompiledPolicy) -> None:
    world = build_world(session, accounts=False)
    with pytest.raises(AccessLogForbidden):
        record_access(
            session=session,
            principal=world.staff_principal("nurse", StaffRole.NURSE),
            policy=policy,
            patient_id=world.patients["ana"],
        )
