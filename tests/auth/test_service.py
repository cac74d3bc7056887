"""Sign-in, throttling and sessions as services, on a rolled-back session per test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.accounts.passwords import needs_rehash, verify_password
from backend.auth.models import LoginAttempt, LoginOutcomeKind
from backend.auth.service import authenticate_staff
from backend.auth.sessions import (
    IDLE_TIMEOUT,
    create_session,
    resolve_session,
    revoke_user_sessions,
    rotate_session,
)
from backend.auth.throttle import ThrottleLimits, account_key, prune_login_attempts
from backend.common.mixins import utcnow
from tests.auth.conftest import PASSWORD, PASSWORD_HASH, add_staff

ADDRESS = "192.0.2.10"


def test_success_stamps_the_login_and_records_the_attempt(session: Session) -> None:
    user = add_staff(session)
    now = utcnow()
    outcome = authenticate_staff(
        session=session, username=f"  {user.username} ", password=PASSWORD, address=ADDRESS, now=now
    )
    assert outcome.ok
    assert outcome.user_id == user.id
    assert user.last_login_at == now
    attempt = session.scalars(
        select(LoginAttempt).where(LoginAttempt.staff_user_id == user.id)
    ).one()
    assert attempt.outcome is LoginOutcomeKind.SUCCESS
    # The username is not stored in clear (it might be a password typed in the wrong box).
    assert attempt.account_key == account_key(user.username) != user.username


def test_an_old_hash_is_upgraded_at_sign_in(session: Session) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)
    user = add_staff(session, password_hash=weak.hash(PASSWORD))
    assert needs_rehash(user.password_hash or "")
    assert authenticate_staff(
        session=session, username=user.username, password=PASSWORD, address=ADDRESS
    ).ok
    assert user.password_hash is not None
    assert not needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, PASSWORD)


@pytest.mark.parametrize("case", ["wrong password", "inactive", "no password", "huge password"])
def test_refusals_are_all_the_same_outcome(session: Session, case: str) -> None:
    user = add_staff(
        session,
        active=case != "inactive",
        password_hash=None if case == "no password" else PASSWORD_HASH,
    )
    password = {"wrong password": "nope", "huge password": PASSWORD + "x" * 5000}.get(
        case, PASSWORD
    )
    outcome = authenticate_staff(
        session=session, username=user.username, password=password, address=ADDRESS
    )
    assert (outcome.ok, outcome.user_id, outcome.retry_after) == (False, None, None)
    assert user.last_login_at is None


def test_throttle_windows_and_reset_by_success(session: Session) -> None:
    limits = ThrottleLimits(account_failures=3, address_failures=100, window=timedelta(minutes=15))
    user = add_staff(session)
    start = utcnow()

    def attempt(password: str, minutes: float) -> tuple[bool, int | None]:
        outcome = authenticate_staff(
            session=session,
            username=user.username,
            password=password,
            address=ADDRESS,
            now=start + timedelta(minutes=minutes),
            limits=limits,
        )
        return outcome.ok, outcome.retry_after

    assert attempt("bad", 0) == (False, None)
    assert attempt("bad", 1) == (False, None)
    assert attempt(PASSWORD, 2) == (True, None)  # a success wipes the account's slate
    for minute in (3, 4, 5):
        assert attempt("bad", minute) == (False, None)
    ok, wait = attempt(PASSWORD, 6)
    assert not ok
    assert wait == 12 * 60  # the oldest counted failure (minute 3) leaves at minute 18
    # Throttled attempts are recorded but do not extend the lock-out.
    ok, wait = attempt(PASSWORD, 10)
    assert (ok, wait) == (False, 8 * 60)
    assert attempt(PASSWORD, 18.1) == (True, None)
    throttled = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.outcome == LoginOutcomeKind.THROTTLED, LoginAttempt.address == ADDRESS)
    )
    assert throttled == 2
    assert prune_login_attempts(session=session, before=start + timedelta(days=1)) >= 9


def test_sessions_expire_idle_and_absolute_and_are_touched_sparingly(session: Session) -> None:
    user = add_staff(session)
    t0 = utcnow()
    new = create_session(session=session, staff_user_id=user.id, address=ADDRESS, now=t0)
    assert new.expires_at == t0 + timedelta(hours=12)
    row = resolve_session(session=session, cookie_value=new.cookie_value, now=t0)
    assert row is not None
    assert row.token_hash != new.cookie_value  # only the hash is kept
    # Activity every 20 minutes keeps it alive, until the 12-hour limit.
    for minutes in range(20, 12 * 60, 20):
        now = t0 + timedelta(minutes=minutes)
        assert resolve_session(session=session, cookie_value=new.cookie_value, now=now)
    assert row.last_seen_at == t0 + timedelta(minutes=700)
    assert not resolve_session(
        session=session, cookie_value=new.cookie_value, now=t0 + timedelta(hours=12)
    )
    idle = create_session(session=session, staff_user_id=user.id, now=t0)
    assert not resolve_session(
        session=session, cookie_value=idle.cookie_value, now=t0 + IDLE_TIMEOUT
    )
    touched = create_session(session=session, staff_user_id=user.id, now=t0)
    seen = resolve_session(
        session=session, cookie_value=touched.cookie_value, now=t0 + timedelta(seconds=30)
    )
    assert seen is not None
    assert seen.last_seen_at == t0  # not rewritten within a minute: reads stay reads
    assert resolve_session(session=session, cookie_value="", now=t0) is None


def test_rotation_and_revoking_every_session_of_a_user(session: Session) -> None:
    user = add_staff(session)
    first = create_session(session=session, staff_user_id=user.id)
    second = rotate_session(
        session=session, old_cookie_value=first.cookie_value, staff_user_id=user.id
    )
    assert resolve_session(session=session, cookie_value=first.cookie_value) is None
    assert resolve_session(session=session, cookie_value=second.cookie_value) is not None
    create_session(session=session, staff_user_id=user.id)
    assert revoke_user_sessions(session=session, staff_user_id=user.id) == 2
    assert resolve_session(session=session, cookie_value=second.cookie_value) is None


def test_unknown_and_inactive_accounts_cost_as_much_as_a_wrong_password(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No timing tell: each refusal verifies exactly one argon2id hash (a dummy one if need be).

    Counted, not timed: the real argon2 verification runs, and a wall-clock comparison
    would only measure how busy the machine is.
    """
    import backend.auth.service as service

    known = add_staff(session)
    inactive = add_staff(session, active=False)
    no_password = add_staff(session, password_hash=None)
    limits = ThrottleLimits(account_failures=1000, address_failures=1000)
    verified: list[bool] = []  # whether a real (non-dummy) hash was given

    def counting_verify(password_hash: str | None, password: str) -> bool:
        verified.append(password_hash is not None)
        return verify_password(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting_verify)
    for username in (known.username, "nobody-here", inactive.username, no_password.username):
        verified.clear()
        outcome = authenticate_staff(
            session=session, username=username, password="nope", address=ADDRESS, limits=limits
        )
        assert not outcome.ok
        assert len(verified) == 1, (username, verified)  # one argon2id verification, always
