"""Invites: one-time, 72 hours, hash only, birth date checked and throttled; on both DBs."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import TypedDict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.models import AuditEvent
from backend.access.policy import CompiledPolicy, policy_store
from backend.accounts.invites import (
    INVALID_LINK,
    INVITE_LIFETIME,
    InviteError,
    InviteForbidden,
    create_invite,
    issue_invite,
    redeem_invite,
)
from backend.accounts.models import PortalAccount, PortalInvite, StaffRole
from backend.common.mixins import utcnow
from backend.settings import Settings
from tests.portal.world import PASSWORD_HASH, build_world
from tests.tables import table_of


class _Account(TypedDict):
    """The form fields a redeem call shares apart from the ones a test varies."""

    password_hash: str
    address: str


class _BornAccount(_Account):
    birth_date: date


class _EmailAccount(_Account):
    email: str


class _Form(_BornAccount, _EmailAccount):
    pass


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return policy_store(Settings().policies_dir).current()


def test_front_desk_invites_a_patient_of_their_location(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session, accounts=False)
    now = utcnow()
    invite = create_invite(
        session=session,
        principal=world.staff_principal("front_desk", StaffRole.FRONT_DESK),
        policy=policy,
        patient_id=world.patients["ana"],
        now=now,
    )
    assert invite is not None
    assert invite.path == f"/portal/invite/{invite.token}"
    row = session.get_one(PortalInvite, invite.invite_id)
    # Only the hash is stored; the token is 256 bits of randomness.
    assert row.token_hash == hashlib.sha256(invite.token.encode()).hexdigest()
    assert invite.token not in {row.token_hash, str(row.id)}
    assert len(invite.token) >= 43
    assert row.expires_at == now + INVITE_LIFETIME == now + timedelta(hours=72)
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.patient_id == world.patients["ana"])
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None
    assert event.record_types == ["PortalInvite"]
    assert invite.token not in str(event.fields)


def test_inviting_needs_the_capability_and_scope(session: Session, policy: CompiledPolicy) -> None:
    world = build_world(session, accounts=False)
    with pytest.raises(InviteForbidden):
        create_invite(
            session=session,
            principal=world.staff_principal("nurse", StaffRole.NURSE),
            policy=policy,
            patient_id=world.patients["ana"],
        )
    coordinator = world.staff_principal("coordinator", StaffRole.CARE_COORDINATOR)
    # Ben is on another team at another location: exactly like a patient that does not exist.
    assert (
        create_invite(
            session=session, principal=coordinator, policy=policy, patient_id=world.patients["ben"]
        )
        is None
    )
    assert create_invite(
        session=session, principal=coordinator, policy=policy, patient_id=world.patients["ana"]
    )


def test_a_new_invite_revokes_the_old_one_and_an_account_stops_new_ones(session: Session) -> None:
    world = build_world(session, accounts=False)
    ana, born = world.patients["ana"], world.birth_dates["ana"]
    first = issue_invite(session=session, patient_id=ana, created_by_id=None)
    second = issue_invite(session=session, patient_id=ana, created_by_id=None)
    args = _BornAccount(birth_date=born, password_hash=PASSWORD_HASH, address="10.0.0.1")
    dead = redeem_invite(session=session, token=first.token, email="a@example.org", **args)
    assert (dead.account_id, dead.error, dead.field) == (None, INVALID_LINK, None)
    ok = redeem_invite(session=session, token=second.token, email=" A@Example.ORG ", **args)
    assert ok.account_id is not None
    account = session.get_one(PortalAccount, ok.account_id)
    assert account.login_email == "a@example.org"
    assert account.password_hash.startswith("$argon2id$")
    # Single use: the same link again is dead, and no second account appears.
    again = redeem_invite(session=session, token=second.token, email="b@example.org", **args)
    assert again.error == INVALID_LINK
    with pytest.raises(InviteError):
        issue_invite(session=session, patient_id=ana, created_by_id=None)


def test_expired_and_unknown_links_are_dead(session: Session) -> None:
    world = build_world(session, accounts=False)
    ana = world.patients["ana"]
    invite = issue_invite(session=session, patient_id=ana, created_by_id=None)
    args = _Form(
        birth_date=world.birth_dates["ana"],
        email="x@example.org",
        password_hash=PASSWORD_HASH,
        address="10.0.0.2",
    )
    late = utcnow() + INVITE_LIFETIME + timedelta(seconds=1)
    assert redeem_invite(session=session, token=invite.token, now=late, **args).error == (
        INVALID_LINK
    )
    for token in ("", "x" * 500, invite.token + "x"):
        assert redeem_invite(session=session, token=token, **args).error == INVALID_LINK
    assert session.scalars(select(PortalAccount).where(PortalAccount.patient_id == ana)).all() == []


def test_wrong_birth_dates_are_throttled_per_invite(session: Session) -> None:
    world = build_world(session, accounts=False)
    invite = issue_invite(session=session, patient_id=world.patients["ana"], created_by_id=None)
    right = world.birth_dates["ana"]
    args = _EmailAccount(email="t@example.org", password_hash=PASSWORD_HASH, address="10.0.0.3")
    for n in range(5):
        wrong = right - timedelta(days=n + 1)
        out = redeem_invite(session=session, token=invite.token, birth_date=wrong, **args)
        assert (out.field, out.error) == (
            "birth_date",
            "The birth date does not match our records.",
        )
    # The sixth try is refused even with the right birth date.
    out = redeem_invite(session=session, token=invite.token, birth_date=right, **args)
    assert out.account_id is None
    assert out.error is not None
    assert out.error.startswith("Too many attempts")
    later = utcnow() + timedelta(minutes=16)
    out = redeem_invite(session=session, token=invite.token, birth_date=right, now=later, **args)
    assert out.account_id is not None


def test_an_address_already_used_is_refused(session: Session) -> None:
    world = build_world(session)  # ana and ben have accounts
    from backend.accounts.models import PortalAccount as Account

    session.execute(table_of(Account).delete().where(Account.patient_id == world.patients["ben"]))
    invite = issue_invite(session=session, patient_id=world.patients["ben"], created_by_id=None)
    out = redeem_invite(
        session=session,
        token=invite.token,
        birth_date=world.birth_dates["ben"],
        email=world.emails["ana"].upper(),
        password_hash=PASSWORD_HASH,
        address="10.0.0.4",
    )
    assert (out.account_id, out.field) == (None, "email")


def test_only_front_desk_and_care_coordinators_may_invite(policy: CompiledPolicy) -> None:
    allowed = {role.value for role in StaffRole if policy.may({role.value}, "invite_patients")}
    assert allowed == {"front_desk", "care_coordinator"}
    assert not policy.may({"patient"}, "invite_patients")
    assert policy.may({"patient"}, "see_record_access")
    assert not any(policy.may({r.value}, "see_record_access_names") for r in StaffRole)
