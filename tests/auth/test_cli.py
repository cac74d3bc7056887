"""``patient360 token`` and ``patient360 client create``, mounted as backend/cli.py will."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from backend.accounts.models import StaffRole
from backend.auth.cli import client_app, token
from backend.auth.tokens import decode_and_check
from backend.settings import Settings, get_settings
from tests.auth.conftest import SECRET, committed_staff

app = typer.Typer()
app.command("token")(token)
app.add_typer(client_app, name="client")


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("P360_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_token_prints_only_a_token_that_checks_out(
    engine: Engine, session: Session, settings: Settings
) -> None:
    user_id, username = committed_staff(engine)
    result = CliRunner().invoke(
        app, ["token", "--user", username, "--scope", "patients:read", "--minutes", "5"]
    )
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip()
    assert "\n" not in printed
    claims = decode_and_check(session=session, settings=settings, token=printed)
    assert claims["sub"] == str(user_id)
    assert claims["scope"] == "patients:read"
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--user", "nobody-at-all"], 1),
        (["--user", "x", "--minutes", "61"], 2),
        (["--user", "x", "--scope", "root"], 2),
    ],
)
def test_token_refusals(args: list[str], code: int) -> None:
    result = CliRunner().invoke(app, ["token", *args])
    assert result.exit_code == code
    assert result.stdout.strip() == ""


@pytest.mark.usefixtures("cli_env")
def test_client_create_prints_the_secret_once_and_it_works(
    engine: Engine, settings: Settings
) -> None:
    _, username = committed_staff(engine, roles=(StaffRole.INTEGRATION,), password_hash=None)
    result = CliRunner().invoke(
        app,
        ["client", "create", "--name", "Lab feed", "--user", username, "--scope", "patients:read"],
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split(maxsplit=1) for line in result.stdout.strip().splitlines())
    assert lines["scopes"] == "patients:read"
    from backend.auth.oauth import token_endpoint
    from backend.db import transaction

    with transaction(engine) as session:
        response = token_endpoint(
            session=session,
            settings=settings,
            method="POST",
            headers={},
            form=[
                ("grant_type", "client_credentials"),
                ("client_id", lines["client_id"]),
                ("client_secret", lines["client_secret"]),
            ],
        )
    assert response.status == 200
    assert response.body["scope"] == "patients:read"
    bad = CliRunner().invoke(
        app, ["client", "create", "--name", "x", "--user", username, "--scope", "root"]
    )
    assert bad.exit_code == 2
