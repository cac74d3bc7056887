"""Break-glass: capability, reason, 60 minutes, audited, flagged, listed for review."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access import breakglass
from backend.access.models import AuditAction, AuditEvent
from backend.access.policy import CompiledPolicy, load_policy
from backend.access.scoping import can_see_patient
from backend.settings import Settings
from tests.access.world import NOW, World, build


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def test_grant_audit_scope_and_review(
    session: Session, world: World, policy: CompiledPolicy
) -> None:
    physician = world.principal("physician", "physician", teams=(world.team_a,))
    target = world.patients["b"]
    assert not can_see_patient(session=session, principal=physician, patient_id=target, now=NOW)
    grant = breakglass.grant_break_glass(
        session=session,
        principal=physician,
        policy=policy,
        patient_id=target,
        reason="Patient unresponsive in lobby",
        now=NOW,
    )
    assert grant.expires_at == NOW + timedelta(minutes=60)
    event = session.execute(
        select(AuditEvent).where(AuditEvent.action == AuditAction.BREAK_GLASS)
    ).scalar_one()
    assert event.break_glass
    assert event.break_glass_grant_id == grant.id
    assert event.patient_id == target
    assert event.policy_version == policy.version

    refs = breakglass.active_grants(
        session=session, staff_user_id=world.staff["physician"], now=NOW
    )
    assert [r.grant_id for r in refs] == [grant.id]
    with_grant = world.principal("physician", "physician", teams=(world.team_a,), grants=refs)
    assert can_see_patient(session=session, principal=with_grant, patient_id=target, now=NOW)
    later = NOW + timedelta(minutes=61)
    assert (
        breakglass.active_grants(session=session, staff_user_id=world.staff["physician"], now=later)
        == ()
    )

    auditor = world.principal("auditor", "auditor")
    assert [
        g.id
        for g in breakglass.grants_for_review(session=session, principal=auditor, policy=policy)
    ] == [grant.id]
    breakglass.mark_reviewed(
        session=session, principal=auditor, policy=policy, grant_id=grant.id, now=NOW
    )
    assert breakglass.grants_for_review(session=session, principal=auditor, policy=policy) == []


@pytest.mark.parametrize("role", ["front_desk", "admin", "billing", "auditor"])
def test_roles_without_the_capability_are_refused(
    session: Session, world: World, policy: CompiledPolicy, role: str
) -> None:
    with pytest.raises(breakglass.BreakGlassForbidden):
        breakglass.grant_break_glass(
            session=session,
            principal=world.principal("front_desk", role),
            policy=policy,
            patient_id=world.patients["b"],
            reason="Patient unresponsive in lobby",
            now=NOW,
        )


def test_reason_and_patient_are_checked(
    session: Session, world: World, policy: CompiledPolicy
) -> None:
    nurse = world.principal("physician", "nurse")
    with pytest.raises(breakglass.BreakGlassInputError):
        breakglass.grant_break_glass(
            session=session,
            principal=nurse,
            policy=policy,
            patient_id=world.patients["b"],
            reason="  ",
            now=NOW,
        )
    for missing in (uuid.uuid4(), world.patients["deleted"]):
        with pytest.raises(breakglass.BreakGlassNotFound):
            breakglass.grant_break_glass(
                session=session,
                principal=nurse,
                policy=policy,
                patient_id=missing,
                reason="Patient unresponsive in lobby",
                now=NOW,
            )
    with pytest.raises(breakglass.BreakGlassForbidden):
        breakglass.grants_for_review(session=session, principal=nurse, policy=policy)
