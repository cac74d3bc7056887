"""Revoking a client or a user's access, and pruning dead credentials, via the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import typer
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.accounts.models import StaffRole
from backend.auth.cli import auth_app, client_app
from backend.auth.maintenance import prune_expired
from backend.auth.models import AccessToken, LoginAttempt, LoginOutcomeKind, OAuthClient
from backend.auth.oauth import create_client
from backend.auth.sessions import create_session, resolve_session
from backend.auth.tokens import InvalidTokenError, decode_and_check, issue_access_token
from backend.common.mixins import utcnow
from backend.db import transaction
from backend.settings import Settings, get_settings
from tests.auth.conftest import SECRET, add_staff, committed_staff

app = typer.Typer()
app.add_typer(client_app, name="client")
app.add_typer(auth_app, name="auth")
READ = ("patients:read",)


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("P360_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _live(engine: Engine, settings: Settings, token: str) -> bool:
    with transaction(engine) as session:
        try:
            decode_and_check(session=session, settings=settings, token=token)
        except InvalidTokenError:
            return False
        return True


@pytest.mark.usefixtures("cli_env")
def test_client_revoke_deactivates_it_and_kills_its_tokens_only(
    engine: Engine, settings: Settings
) -> None:
    user_id, _ = committed_staff(engine, roles=(StaffRole.INTEGRATION,))
    with transaction(engine) as session:
        client = create_client(session=session, name="lab feed", staff_user_id=user_id, scopes=READ)
        row = session.scalars(
            select(OAuthClient).where(OAuthClient.client_id == client.client_id)
        ).one()
        via_client = issue_access_token(
            session=session,
            settings=settings,
            staff_user_id=user_id,
            scopes=READ,
            oauth_client_id=row.id,
            client_id=client.client_id,
        ).access_token
        personal = issue_access_token(
            session=session, settings=settings, staff_user_id=user_id, scopes=READ
        ).access_token
    result = CliRunner().invoke(app, ["client", "revoke", client.client_id])
    assert result.exit_code == 0, result.output
    assert "1 live token(s) revoked" in result.stdout
    assert not _live(engine, settings, via_client)
    assert _live(engine, settings, personal)
    with transaction(engine) as session:
        assert (
            session.scalars(
                select(OAuthClient.active).where(OAuthClient.client_id == client.client_id)
            ).one()
            is False
        )
    missing = CliRunner().invoke(app, ["client", "revoke", "no-such-client"])
    assert missing.exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_auth_revoke_by_user_and_by_jti(engine: Engine, settings: Settings) -> None:
    user_id, username = committed_staff(engine)
    with transaction(engine) as session:
        tokens = [
            issue_access_token(
                session=session, settings=settings, staff_user_id=user_id, scopes=READ
            )
            for _ in range(3)
        ]
        browser = create_session(session=session, staff_user_id=user_id)
    one = CliRunner().invoke(app, ["auth", "revoke", "--jti", tokens[0].jti])
    assert one.exit_code == 0, one.output
    assert not _live(engine, settings, tokens[0].access_token)
    assert _live(engine, settings, tokens[1].access_token)
    again = CliRunner().invoke(app, ["auth", "revoke", "--jti", tokens[0].jti])
    assert again.exit_code == 1  # already dead: said, not silently "done"

    everything = CliRunner().invoke(app, ["auth", "revoke", "--user", username])
    assert everything.exit_code == 0, everything.output
    assert "2 token(s) and 1 session(s) revoked" in everything.stdout
    assert not any(_live(engine, settings, t.access_token) for t in tokens)
    with transaction(engine) as session:
        assert resolve_session(session=session, cookie_value=browser.cookie_value) is None


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("args", [[], ["--user", "a", "--jti", "b"]])
def test_auth_revoke_needs_exactly_one_target(args: list[str]) -> None:
    assert CliRunner().invoke(app, ["auth", "revoke", *args]).exit_code == 2


def test_prune_deletes_only_rows_dead_for_longer_than_keep(
    session: Session, settings: Settings
) -> None:
    now = utcnow()
    user = add_staff(session)
    old = issue_access_token(
        session=session,
        settings=settings,
        staff_user_id=user.id,
        scopes=READ,
        now=now - timedelta(days=40),
    )
    fresh = issue_access_token(
        session=session, settings=settings, staff_user_id=user.id, scopes=READ
    )
    create_session(session=session, staff_user_id=user.id, now=now - timedelta(days=40))
    live_session = create_session(session=session, staff_user_id=user.id, now=now)
    for days in (40, 0):
        session.add(
            LoginAttempt(
                occurred_at=now - timedelta(days=days),
                account_key="k" * 64,
                address="10.0.0.1",
                outcome=LoginOutcomeKind.FAILURE,
            )
        )
    session.flush()
    pruned = prune_expired(session=session, keep=timedelta(days=30), now=now)
    assert (pruned.tokens, pruned.sessions, pruned.login_attempts) == (1, 1, 1)
    jtis = set(session.scalars(select(AccessToken.jti).where(AccessToken.staff_user_id == user.id)))
    assert jtis == {fresh.jti}
    assert old.jti not in jtis
    assert resolve_session(session=session, cookie_value=live_session.cookie_value) is not None
    assert (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.account_key == "k" * 64)
        )
        == 1
    )
    with pytest.raises(ValueError, match="negative"):
        prune_expired(session=session, keep=timedelta(days=-1))
